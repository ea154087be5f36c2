#!/usr/bin/env python3
"""bench/tls_bench.py: the sink with STARTTLS against the plain sink, same run.

What it measures: messages per server CPU-second (utime + stime of the
spamsink process, from /proc, over the run) of spamsink --threads 1
--db none as a plain sink (--tls no) and with STARTTLS (self-signed EC
P-256 certificate; every session does EHLO, STARTTLS, the handshake, EHLO
again). The load is one Python client (ssl module, TLS 1.3 by default),
the same for both servers: sequential sessions of `--per-conn` messages
each (EHLO, MAIL, RCPT, DATA, a `--size` byte body, then QUIT), so the
client's own speed does not enter the figure, only the server's CPU per
message. Runs alternate plain / TLS `--runs` times; the figure reported is
the median of each, and the ratio TLS / plain of the medians. Each run is
verified: every message got 250 queued, and the server's totals
(SIGUSR1) grew by exactly that count.
smtp-source cannot do TLS. `--client smtpsend` (the default) drives both
servers with build/bin/smtpsend (`--starttls` for the TLS server, 4
parallel senders, `-t` seconds, `-m` messages per connection, `-b` body
bytes); `--client python` uses the sequential Python client above
instead. Either way the figure is the server's CPU per message.
Limits: every socket has a timeout, each run at most `--seconds` of load;
servers are stopped on every exit path; traffic stays on 127.0.0.1.
Exit status: 0 all runs verified; 1 otherwise.
"""

import argparse
import os
import re
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
TOTALS = re.compile(rb"event=totals .*?\bmessages=(\d+)")


class Server:
    def __init__(self, binary, tmp, name, tls):
        self.name = name
        self.log_path = os.path.join(tmp, name + ".log")
        self.log = open(self.log_path, "wb")
        args = [binary, "--sink", HOST + ":0", "--threads", "1", "--db", "none", "--hostname", "mx.bench.test",
                "--max-conns-per-ip", "0",
                "--state-dir", os.path.join(tmp, name + "-state"), "--tls", "yes" if tls else "no"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 10
        self.port = None
        while time.monotonic() < deadline and self.port is None:
            m = re.search(rb"event=listening mode=sink address=127\.0\.0\.1:(\d+)", self.text())
            if m and b"event=started" in self.text():
                self.port = int(m.group(1))
            time.sleep(0.02)
        if self.port is None:
            self.stop()
            raise RuntimeError(name + " did not start: " + self.text().decode(errors="replace"))

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read()

    def cpu(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def messages(self):
        before = len(TOTALS.findall(self.text()))
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            found = TOTALS.findall(self.text())
            if len(found) > before:
                return int(found[-1])
            time.sleep(0.01)
        raise RuntimeError(self.name + ": no totals line after SIGUSR1")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port), timeout=10)
        # Without it the client's Finished and its EHLO meet Nagle and the
        # server's delayed ACK: 40 ms per TLS session, the same for both
        # servers only in name.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def reply(self):
        while True:
            start = 0
            i = self.buf.find(b"\r\n")
            while i >= 0:
                line = self.buf[start:i + 2]
                if len(line) < 4 or line[3:4] != b"-":
                    out, self.buf = self.buf[:i + 2], self.buf[i + 2:]
                    return out
                start = i + 2
                i = self.buf.find(b"\r\n", start)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed")
            self.buf += chunk

    def cmd(self, data, expect):
        self.sock.sendall(data)
        r = self.reply()
        if not r.startswith(expect):
            raise RuntimeError("%r -> %r" % (data[:40], r[:200]))
        return r


def session(port, tls_ctx, per_conn, body):
    c = Conn(port)
    c.reply()
    ehlo = c.cmd(b"EHLO client.bench\r\n", b"250")
    if tls_ctx is not None:
        if b"STARTTLS" not in ehlo:
            raise RuntimeError("no STARTTLS offered")
        c.cmd(b"STARTTLS\r\n", b"220")
        c.sock = tls_ctx.wrap_socket(c.sock)
        c.buf = b""
        c.cmd(b"EHLO client.bench\r\n", b"250")
    ok = 0
    for _ in range(per_conn):
        c.cmd(b"MAIL FROM:<a@client.bench>\r\n", b"250")
        c.cmd(b"RCPT TO:<x@mx.bench.test>\r\n", b"250")
        c.cmd(b"DATA\r\n", b"354")
        c.cmd(body, b"250 2.0.0 Ok: queued as")
        ok += 1
    c.cmd(b"QUIT\r\n", b"221")
    c.sock.close()
    return ok


def run_smtpsend(smtpsend, port, tls, per_conn, size, seconds):
    args = [smtpsend, "-s", "4", "-m", str(per_conn), "-b", str(size), "-t", str(seconds), "--no-progress",
            "-p", str(port)] + (["--starttls"] if tls else []) + [HOST]
    r = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"^Sent (\d+) messages", r.stdout, re.M)
    if r.returncode != 0 or m is None or not re.search(r"^0 messages failed", r.stdout, re.M):
        raise RuntimeError("smtpsend failed: " + r.stdout + r.stderr)
    return int(m.group(1))


def run(server, tls_ctx, per_conn, body, seconds, smtpsend=None):
    before_msgs = server.messages()
    cpu0, t0 = server.cpu(), time.monotonic()
    sent = 0
    if smtpsend is not None:
        sent = run_smtpsend(smtpsend, server.port, tls_ctx is not None, per_conn, len(body), seconds)
    while smtpsend is None and time.monotonic() - t0 < seconds:
        sent += session(server.port, tls_ctx, per_conn, body)
    wall = time.monotonic() - t0
    time.sleep(0.3)  # the last session's close reaches the totals
    cpu = server.cpu() - cpu0
    counted = server.messages() - before_msgs
    if counted != sent:
        raise RuntimeError("%s: client sent %d, server counted %d" % (server.name, sent, counted))
    return sent, cpu, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin", "spamsink"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--per-conn", type=int, action="append", help="messages per session (repeatable; default 1 and 20)")
    ap.add_argument("--size", type=int, default=4096, help="body bytes (default 4096)")
    ap.add_argument("--tls-version", choices=("1.2", "1.3"), default="1.3", help="python client only")
    ap.add_argument("--client", choices=("smtpsend", "python"), default="smtpsend")
    a = ap.parse_args()
    smtpsend = os.path.join(os.path.dirname(a.bin), "smtpsend") if a.client == "smtpsend" else None
    per_conns = a.per_conn or [1, 20]
    line = b"x" * 76 + b"\r\n"
    body = b"Subject: bench\r\n\r\n" + line * max(1, a.size // len(line)) + b".\r\n"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    v = ssl.TLSVersion.TLSv1_3 if a.tls_version == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = v
    tmp = tempfile.mkdtemp(prefix="spamsink-tlsbench-")
    servers = []
    try:
        plain = Server(a.bin, tmp, "plain", False)
        servers.append(plain)
        tls = Server(a.bin, tmp, "tls", True)
        servers.append(tls)
        client = ("smtpsend -s 4 (TLS 1.3)" if smtpsend else
                  "Python %s ssl (%s), TLS %s" % (sys.version.split()[0], ssl.OPENSSL_VERSION, a.tls_version))
        print("# spamsink --threads 1 --db none; client: %s; body %d bytes; %d runs of %.0f s"
              % (client, len(body), a.runs, a.seconds))
        for per_conn in per_conns:
            res = {"plain": [], "tls": []}
            for _ in range(a.runs):
                for name, srv, c in (("plain", plain, None), ("tls", tls, ctx)):
                    sent, cpu, wall = run(srv, c, per_conn, body, a.seconds, smtpsend)
                    res[name].append((sent / cpu if cpu > 0 else float("inf"), sent / wall, sent, cpu))
                    print("  per_conn=%-3d %-5s msgs=%-6d server_cpu=%.2fs  %.0f msgs/cpu-s  %.0f msgs/s"
                          % (per_conn, name, sent, cpu, res[name][-1][0], res[name][-1][1]))
            mp = statistics.median(r[0] for r in res["plain"])
            mt = statistics.median(r[0] for r in res["tls"])
            print("per_conn=%d: plain %.0f msgs/cpu-s, STARTTLS %.0f msgs/cpu-s (median of %d); TLS/plain = %.2f"
                  % (per_conn, mp, mt, a.runs, mt / mp))
        return 0
    except Exception as e:  # noqa: BLE001 - report and fail
        print("tls_bench: " + str(e), file=sys.stderr)
        return 1
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    sys.exit(main())
