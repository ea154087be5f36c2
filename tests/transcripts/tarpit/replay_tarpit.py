#!/usr/bin/env python3
"""Golden transcripts of the tarpit strategies, against the real binary.

A tarpit's behaviour is in its timing as much as in its bytes, and the
timing lives in the network layer (net/TarpitEngine), so these transcripts
drive the real daemon over loopback with short intervals rather than a
Session on an injected clock (tests/transcripts/*.in do that for the sink).

NAME.in: the first line is `@args ...` (the daemon's tarpit options); then
one client line per line, sent when the previous reply is whole. After
DATA's reply, body lines are sent up to and including ".". `@read N`
instead reads N more reply lines (the banner strategy's endless greeting);
`@silence MS` asserts that nothing arrives for MS milliseconds (the stall
strategy never answers); `@close` waits for the server to close; `@greeting` reads the greeting;
`@send LINE` sends without waiting for a reply.
NAME.ref: what the client saw, one line per event:
  C: <line sent>
  S: <reply line received>   (host name -> HOST, banner noise -> <random>)
  # dripped | # at once       (a reply of n bytes in >= n/8 reads is dripped)
  # silence MS ms | # closed
Run: replay_tarpit.py NAME [--update]. Traffic stays on 127.0.0.1; every
read has a timeout.
"""

import os
import re
import socket
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "integration"))
from spamsink_harness import SLOW, Daemon, HOSTNAME  # noqa: E402


class _Owner(unittest.TestCase):
    def runTest(self):
        pass


class Peer:
    def __init__(self, addr):
        self.sock = socket.create_connection(addr, timeout=10 * SLOW)
        self.buf = b""
        self.reads = 0  # reads that delivered part of the current line

    def line(self, timeout):
        """One reply line (with CRLF) and how many reads it took; None on close/timeout."""
        deadline = time.monotonic() + timeout
        reads = 1 if self.buf else 0
        while b"\r\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, reads
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(4096)
            except socket.timeout:
                return None, reads
            except ConnectionResetError:
                return None, reads
            if not d:
                return None, reads
            self.buf += d
            reads += 1
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1"), reads

    def reply(self, timeout):
        """A whole reply: its lines and whether it came dripped."""
        lines, reads, size = [], 0, 0
        while True:
            line, r = self.line(timeout)
            if line is None:
                return lines, None
            lines.append(line)
            reads += r
            size += len(line) + 2
            if len(line) < 4 or line[3] != "-":
                return lines, reads >= size // 8


def normalize(line):
    line = line.replace(HOSTNAME, "HOST")
    if re.match(r"^220-", line) and "ESMTP" not in line:
        return "220-<random>"
    return line


def replay(name):
    src = open(os.path.join(HERE, name + ".in")).read().splitlines()
    assert src[0].startswith("@args "), "first line must be @args"
    args = src[0].split()[1:]
    owner = _Owner()
    out = []
    try:
        d = Daemon.start(owner, "--tarpit", "127.0.0.1:0", *args, sinks=(), listeners=1)
        p = Peer(d.addr)
        step = 10 * SLOW

        def expect_reply():
            lines, dripped = p.reply(step)
            out.extend("S: " + normalize(x) for x in lines)
            if dripped is None:
                out.append("# closed" if not lines else "# cut short")
            else:
                out.append("# dripped" if dripped else "# at once")

        body = False
        for line in src[1:]:
            if line.startswith("@read "):
                for _ in range(int(line.split()[1])):
                    text, _ = p.line(step)
                    out.append("S: " + normalize(text) if text is not None else "# closed")
            elif line.startswith("@send "):
                p.sock.sendall(line[6:].encode() + b"\r\n")
                out.append("C: " + line[6:])
            elif line.startswith("@greeting"):
                expect_reply()
            elif line.startswith("@silence "):
                ms = int(line.split()[1])
                text, _ = p.line(ms / 1000.0)
                out.append("# silence %d ms" % ms if text is None else "S: " + normalize(text))
            elif line.startswith("@close"):
                text, _ = p.line(step)
                while text is not None:
                    out.append("S: " + normalize(text))
                    text, _ = p.line(step)
                out.append("# closed")
            else:
                p.sock.sendall(line.encode() + b"\r\n")
                out.append("C: " + line)
                if body:
                    if line == ".":
                        body = False
                        expect_reply()
                    continue
                expect_reply()
                if line.upper() == "DATA" and out[-2].startswith("S: 354"):
                    body = True
        p.sock.close()
    finally:
        owner.doCleanups()
    return "\n".join(out) + "\n"


def main():
    name = sys.argv[1]
    got = replay(name)
    ref = os.path.join(HERE, name + ".ref")
    if "--update" in sys.argv:
        with open(ref, "w") as f:
            f.write(got)
        print("wrote", ref)
        return 0
    want = open(ref).read()
    if got != want:
        import difflib
        sys.stdout.writelines(difflib.unified_diff(want.splitlines(True), got.splitlines(True), "expected", "got"))
        return 1
    print("ok:", name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
