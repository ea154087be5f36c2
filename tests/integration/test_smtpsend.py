"""smtpsend (the load generator) against real servers.

Covers: the counts smtpsend reports (messages, connections, bytes sent)
equal what the server counted, against Postfix smtp-sink (its -c counters)
and against spamsink (SIGUSR1 totals), for -s 4 -m 5 -n 100, with
--pipelining, with --bdat (BDAT only where CHUNKING is offered: spamsink
yes, smtp-sink no) and with -r 3; a refused connection (exit 1, `failures:
refused`); a server that accepts and never answers (--timeout 1 gives up
within seconds); a scripted server answering 451/550 at MAIL, RCPT or DATA
(counted by code, RSET after each); --hold against spamsink (every
connection held for --hold-time); --early-talk (the greeting is reported);
--json output; a bad option (exit 2 with the usage).

Binaries: smtpsend next to $SPAMSINK_BIN (ctest sets it); by hand, both
default to build/bin. smtp-sink and smtp-source come from the postfix
package. Every subprocess, socket and wait here has a timeout; traffic goes
only to 127.0.0.1.
"""

import json
import os
import re
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

_DEFAULT_BIN = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bin",
                                             "spamsink"))
os.environ.setdefault("SPAMSINK_BIN", _DEFAULT_BIN)

from spamsink_harness import SLOW, Daemon  # noqa: E402  (needs SPAMSINK_BIN set first)

SMTPSEND = os.path.join(os.path.dirname(os.environ["SPAMSINK_BIN"]), "smtpsend")
HELO = "load.example"
FROM = "load@client.example"
TO = "sink@server.example"
# The envelope is fixed here so that the bytes smtpsend sends can be
# computed from what the server counted.
ENVELOPE = ["--helo", HELO, "-F", FROM, "-T", TO]
RUN_TIMEOUT = 60 * SLOW


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smtpsend(*args, timeout=RUN_TIMEOUT):
    """Runs smtpsend; returns the CompletedProcess (text)."""
    if not os.access(SMTPSEND, os.X_OK):
        raise RuntimeError("no smtpsend binary at %s" % SMTPSEND)
    return subprocess.run([SMTPSEND, "--no-progress"] + [str(a) for a in args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)


def smtpsend_json(test, *args, expect_rc=0):
    p = smtpsend(*(list(args) + ["--json"]))
    test.assertEqual(p.returncode, expect_rc, p.stdout + p.stderr)
    return json.loads(p.stdout)


def rcpt_list(n):
    local, _, domain = TO.partition("@")
    return [TO] if n == 1 else ["%s+%d@%s" % (local, i, domain) for i in range(1, n + 1)]


def expected_bytes_sent(connections, messages, rcpts, size, bdat):
    """What smtpsend writes: EHLO and QUIT per connection; per message MAIL,
    the RCPTs, then DATA + body + "." or one BDAT chunk. The generated body
    has no line starting with '.', so DATA adds no stuffing."""
    per_conn = len("EHLO %s\r\n" % HELO) + len("QUIT\r\n")
    per_msg = len("MAIL FROM:<%s>\r\n" % FROM) + sum(len("RCPT TO:<%s>\r\n" % r) for r in rcpt_list(rcpts))
    per_msg += (len("BDAT %d LAST\r\n" % size) + size) if bdat else (len("DATA\r\n") + size + len(".\r\n"))
    return connections * per_conn + messages * per_msg


def message_bytes_sent(r):
    """Bytes smtpsend sent for messages: without each connection's EHLO and QUIT."""
    return r["bytes_sent"] - r["connections"] * (len("EHLO %s\r\n" % HELO) + len("QUIT\r\n"))


def check_load_result(test, r):
    """The common checks of a -s 4 -m 5 -n 100 run; returns its connections.
    A connection takes its messages from the shared -n budget one by one,
    so when the budget runs out each of the 4 senders may end with one
    short connection: 20 to 23 connections, never more than 5 messages on
    one (checked on the server's side)."""
    test.assertEqual((r["messages_sent"], r["messages_failed"]), (100, 0), r)
    test.assertEqual(r["reply_codes"], {})
    test.assertEqual(sum(r["failures"].values()), 0, r["failures"])
    test.assertGreaterEqual(r["connections"], 20)
    test.assertLessEqual(r["connections"], 23)
    return r["connections"]


# ------------------------------------------------------------ smtp-sink

class SmtpSink:
    """Postfix smtp-sink with -c: it rewrites one line of counters on stdout,
    'sess=N quit=N mesg=N' followed by CR, whenever a session ends, a QUIT
    is received or a message ends with '.'. (It prints nothing on SIGUSR1 or
    SIGTERM: those just end it.)"""

    _COUNTERS = re.compile(r"sess=(\d+) quit=(\d+) mesg=(\d+)")

    def __init__(self, test, *extra):
        self.port = free_port()
        self.out_path = os.path.join(tempfile.mkdtemp(prefix="smtpsend-int-"), "out")
        self.out = open(self.out_path, "wb")
        args = ["smtp-sink"]
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        args += list(extra) + ["-c", "127.0.0.1:%d" % self.port, "1000"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        test.addCleanup(self.stop)
        self._wait_listening()

    def _wait_listening(self):
        # A probe session: it also makes the first counters line appear.
        deadline = time.monotonic() + 10 * SLOW
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("smtp-sink exited %s: %s" % (self.proc.returncode, self.text()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.settimeout(5)
                    if not s.recv(100).startswith(b"220 "):
                        raise RuntimeError("smtp-sink greeting?")
                    s.sendall(b"QUIT\r\n")
                    s.recv(100)
                break
            except ConnectionRefusedError:
                time.sleep(0.05)
        self.base = self.wait_counters(lambda c: c["sess"] >= 1)
        if self.base["sess"] != 1:
            raise RuntimeError("smtp-sink counted %r after one probe" % self.base)

    def text(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("ascii", "replace")

    def counters(self):
        found = self._COUNTERS.findall(self.text())
        if not found:
            return None
        sess, quit_, mesg = (int(x) for x in found[-1])
        return {"sess": sess, "quit": quit_, "mesg": mesg}

    def wait_counters(self, pred, timeout=10 * SLOW):
        deadline = time.monotonic() + timeout
        while True:
            c = self.counters()
            if c is not None and pred(c):
                return c
            if time.monotonic() > deadline:
                raise AssertionError("smtp-sink counters %r did not reach the expected values:\n%r" % (c, self.text()))
            time.sleep(0.05)

    def since_start(self, sess, quit_, mesg, timeout=10 * SLOW):
        """Waits for the counters to reach the given deltas from after the
        probe, then checks that they stay there (no more than that)."""
        want = {"sess": self.base["sess"] + sess, "quit": self.base["quit"] + quit_, "mesg": self.base["mesg"] + mesg}
        self.wait_counters(lambda c: all(c[k] >= v for k, v in want.items()), timeout)
        time.sleep(0.2)
        c = self.counters()
        return {k: c[k] - self.base[k] for k in c}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.out.close()


# --------------------------------------------------- scripted test servers

class ScriptedServer:
    """A small SMTP server in threads. `reject` maps a verb (MAIL, RCPT,
    DATA) to the reply it gets instead of the positive one. `silent` accepts
    connections and never says anything. It counts every command verb."""

    def __init__(self, test, reject=None, silent=False):
        self.reject = reject or {}
        self.silent = silent
        self.counts = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        test.addCleanup(self.stop)

    def count(self, verb):
        with self.lock:
            self.counts[verb] = self.counts.get(verb, 0) + 1

    def _accept(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.count("connect")
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.settimeout(10 * SLOW)
        if self.silent:
            self.stopping.wait(30 * SLOW)
            return
        f = c.makefile("rb")
        try:
            c.sendall(b"220 scripted.example ESMTP\r\n")
            while True:
                line = f.readline(2000)
                if not line:
                    return
                verb = line[:4].upper().decode("ascii", "replace")
                self.count(verb)
                if verb == "EHLO":
                    c.sendall(b"250-scripted.example\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n")
                elif verb in self.reject:
                    c.sendall(self.reject[verb].encode() + b"\r\n")
                elif verb == "MAIL":
                    c.sendall(b"250 2.1.0 Ok\r\n")
                elif verb == "RCPT":
                    c.sendall(b"250 2.1.5 Ok\r\n")
                elif verb == "DATA":
                    c.sendall(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    while True:
                        body = f.readline(100000)
                        if not body:
                            return
                        if body == b".\r\n":
                            break
                    self.count("message")
                    c.sendall(b"250 2.0.0 Ok: queued\r\n")
                elif verb == "RSET":
                    c.sendall(b"250 2.0.0 Ok\r\n")
                elif verb == "QUIT":
                    c.sendall(b"221 2.0.0 Bye\r\n")
                    return
                else:
                    c.sendall(b"502 5.5.2 Error: command not recognized\r\n")
        except OSError:
            return
        finally:
            f.close()
            c.close()

    def stop(self):
        self.stopping.set()
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        self.thread.join(timeout=5)


# ------------------------------------------------------------------ tests

class SmtpSinkTest(unittest.TestCase):
    """Counts against Postfix smtp-sink."""

    def check(self, *extra, rcpts=1):
        sink = SmtpSink(self)
        r = smtpsend_json(self, "-p", sink.port, "-s", 4, "-m", 5, "-n", 100, "-r", rcpts, *ENVELOPE, *extra)
        conns = check_load_result(self, r)
        self.assertEqual(r["latency_us"]["message"]["count"], 100)
        self.assertEqual(r["latency_us"]["connection"]["count"], conns)
        got = sink.since_start(sess=conns, quit_=conns, mesg=100)
        self.assertEqual(got, {"sess": conns, "quit": conns, "mesg": 100})
        return r

    def test_counts(self):
        self.check()

    def test_counts_pipelining(self):
        self.check("--pipelining")

    def test_counts_bdat_falls_back_to_data(self):
        # smtp-sink offers no CHUNKING: --bdat must send DATA, which smtp-sink
        # counts at the '.'; BDAT would not be counted at all.
        plain = self.check()
        bdat = self.check("--bdat")
        self.assertEqual(message_bytes_sent(bdat), message_bytes_sent(plain))

    def test_counts_three_recipients(self):
        one = self.check()
        three = self.check(rcpts=3)
        per_extra_rcpt = len("RCPT TO:<sink+1@server.example>\r\n") * 3 - len("RCPT TO:<%s>\r\n" % TO)
        self.assertEqual(message_bytes_sent(three) - message_bytes_sent(one), 100 * per_extra_rcpt)


class SpamsinkTest(unittest.TestCase):
    """Counts against spamsink's own totals, and the probes."""

    def test_run_ends_with_its_last_session(self):
        # Each thread's watchdog ticks every 100 ms; the run must end when its
        # last session closes, not at the watchdog's next tick (it once did,
        # which cost up to 100 ms of wall time per run and with it msg/s).
        # A one-message run on loopback takes a few ms; the best of three
        # keeps a loaded machine from failing it.
        d = Daemon.start(self)
        best = min(smtpsend_json(self, "-p", d.port, "-n", 1, *ENVELOPE)["seconds"] for _ in range(3))
        self.assertLess(best, 0.1)

    def check(self, *extra, rcpts=1, bdat=False):
        d = Daemon.start(self)
        r = smtpsend_json(self, "-p", d.port, "-s", 4, "-m", 5, "-n", 100, "-r", rcpts, *ENVELOPE, *extra)
        conns = check_load_result(self, r)
        t = d.wait_totals(self, sessions=conns, messages=100, recipients=100 * rcpts, refused_messages=0,
                          refused_connections=0, open=0)
        self.assertEqual(t["bytes"] % 100, 0, t)
        size = t["bytes"] // 100
        self.assertTrue(1024 < size < 1024 + 400, size)  # -b 1024 plus headers
        self.assertEqual(r["bytes_sent"], expected_bytes_sent(conns, 100, rcpts, size, bdat))
        closes = d.session_closes(conns)
        self.assertEqual({(s["helo"], s["from"], s["errors"], s["end"]) for s in closes}, {(HELO, FROM, "0", "quit")})
        per_session = [int(s["messages"]) for s in closes]
        self.assertTrue(all(1 <= m <= 5 for m in per_session), per_session)
        self.assertEqual(sum(per_session), 100)
        self.assertEqual([int(s["rcpts"]) for s in closes], [m * rcpts for m in per_session])
        return size

    def test_counts(self):
        self.check()

    def test_counts_pipelining(self):
        self.check("--pipelining")

    def test_counts_bdat(self):
        # spamsink offers CHUNKING: the same message goes as BDAT, unstuffed,
        # and arrives with the same size as with DATA.
        self.assertEqual(self.check("--bdat", bdat=True), self.check())

    def test_counts_bdat_pipelining(self):
        self.check("--bdat", "--pipelining", bdat=True)

    def test_counts_three_recipients(self):
        self.check(rcpts=3)

    def test_hold(self):
        d = Daemon.start(self)
        t0 = time.monotonic()
        r = smtpsend_json(self, "-p", d.port, "--hold", 20, "--hold-time", 2)
        elapsed = time.monotonic() - t0
        h = r["hold"]
        self.assertEqual((h["held"], h["timed_out"], h["closed_by_server"]), (20, 20, 0), h)
        self.assertEqual(r["connections"], 20)
        # Each held about 2 s: the watchdog ticks every 100 ms.
        self.assertGreaterEqual(h["held_us"]["p50"] * (1 + 1 / 16), 2.0e6)
        self.assertLessEqual(h["held_us"]["max"], 2.5e6 * SLOW)
        self.assertLess(elapsed, 6 * SLOW)
        # Every connection got the whole greeting and nothing else.
        greeting = len(b"220 mx.example.test ESMTP Postfix (Debian/GNU)\r\n")
        self.assertEqual((h["bytes"]["count"], h["bytes"]["max"]), (20, greeting))
        self.assertEqual(r["bytes_received"], 20 * greeting)
        self.assertEqual(h["greeting_us"]["count"], 20)
        self.assertEqual(h["first_byte_us"]["count"], 20)
        d.wait_totals(self, sessions=20, messages=0, open=0)

    def test_early_talk(self):
        d = Daemon.start(self)
        p = smtpsend("-p", d.port, "--early-talk", "--timeout", 5, timeout=30 * SLOW)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"^connection 0: greeting 220 mx\.example\.test ESMTP Postfix \(Debian/GNU\) "
                                   r"\(\+\d+ ms\); then 250 CHUNKING \(\+\d+ ms\)\n$")
        r = smtpsend_json(self, "-p", d.port, "--early-talk", "--timeout", 5)
        self.assertIn("greeting 220 mx.example.test", r["early_talk"])
        d.wait_totals(self, sessions=2, messages=0, open=0)

    def test_text_summary(self):
        d = Daemon.start(self)
        p = smtpsend("-p", d.port, "-s", 2, "-m", 5, "-n", 10)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"^Sent 10 messages in \d+\.\d{3} seconds\n[\d.]+ messages per minute\n"
                                   r"[\d.]+ messages per second\n[\d.]+ seconds per message \(average\)\n"
                                   r"0 messages failed, (\d+) connections, \d+ bytes sent\n")
        self.assertNotIn("failures:", p.stdout)
        # Senders draw messages one at a time from -n, so a sender that
        # finished its -m may open one more connection for the last ones:
        # between ceil(n/m) = 2 and 2 + (s - 1) = 3 connections, exactly as
        # many as the server saw.
        conns = int(re.search(r"(\d+) connections", p.stdout).group(1))
        self.assertIn(conns, (2, 3))
        d.wait_totals(self, sessions=conns, messages=10, open=0)


class FailureTest(unittest.TestCase):
    """Servers that refuse, stay silent, or say no."""

    def test_connection_refused(self):
        port = free_port()  # nothing listens there
        t0 = time.monotonic()
        p = smtpsend("-p", port, "-n", 3, "--timeout", 2, timeout=30 * SLOW)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"(?m)^failures: refused \d+$")
        self.assertIn("Sent 0 messages", p.stdout)
        self.assertRegex(p.stdout, r"(?m)^stopped early: cannot connect to 127\.0\.0\.1:%d" % port)
        self.assertLess(time.monotonic() - t0, 10 * SLOW)

    def test_connect_timeout(self):
        """A SYN nobody answers (the listener's accept queue is full) is a
        connect that timed out: no connection, a timeout failure."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lst:
            lst.bind(("127.0.0.1", 0))
            lst.listen(0)
            port = lst.getsockname()[1]
            # The one connection a backlog of 0 takes; later SYNs are dropped.
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                t0 = time.monotonic()
                p = smtpsend("-p", port, "-t", 2, "--timeout", 1, "--json", timeout=30 * SLOW)
                elapsed = time.monotonic() - t0
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        r = json.loads(p.stdout)
        self.assertEqual(r["connections"], 0, r)
        self.assertGreaterEqual(r["failures"]["timeout"], 1, r)
        self.assertEqual(r["failures"]["refused"], 0, r)
        self.assertEqual(r["failures"]["reset"], 0, r)
        self.assertEqual(r["messages_sent"], 0)
        self.assertGreaterEqual(elapsed, 1.0)
        self.assertLess(elapsed, 6 * SLOW)

    def run_against_closer(self, reset):
        """smtpsend -n 2 against a server that accepts and closes at once,
        with a FIN or (reset) an RST, before any greeting."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lst:
            lst.bind(("127.0.0.1", 0))
            lst.listen(8)
            port = lst.getsockname()[1]
            stop = threading.Event()

            def closer():
                lst.settimeout(0.2)
                while not stop.is_set():
                    try:
                        c, _ = lst.accept()
                        if reset:
                            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        c.close()
                    except OSError:
                        pass
            t = threading.Thread(target=closer)
            t.start()
            try:
                p = smtpsend("-p", port, "-n", 2, "--timeout", 2, "--json", timeout=30 * SLOW)
            finally:
                stop.set()
                t.join(timeout=5)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        return json.loads(p.stdout)

    def test_server_that_closes_at_once(self):
        """A FIN before the greeting: connected, then a failure of kind
        "closed", not a connect failure."""
        r = self.run_against_closer(reset=False)
        self.assertEqual(r["failures"]["closed"], r["connections"], r)
        self.assertGreaterEqual(r["connections"], 2, r)
        self.assertEqual(r["failures"]["refused"] + r["failures"]["timeout"] + r["failures"]["reset"], 0, r)

    def test_server_that_resets_at_once(self):
        """A reset before the greeting: the connection was made (a reset in
        SYN_SENT would be "refused"), then a failure of kind "reset"."""
        r = self.run_against_closer(reset=True)
        self.assertEqual(r["failures"]["reset"], r["connections"], r)
        self.assertGreaterEqual(r["connections"], 2, r)
        self.assertEqual(r["failures"]["refused"] + r["failures"]["timeout"] + r["failures"]["closed"], 0, r)

    def test_silent_server_times_out(self):
        srv = ScriptedServer(self, silent=True)
        t0 = time.monotonic()
        p = smtpsend("-p", srv.port, "-n", 1, "--timeout", 1, "--json", timeout=30 * SLOW)
        elapsed = time.monotonic() - t0
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        r = json.loads(p.stdout)
        self.assertEqual(r["failures"]["timeout"], 1, r)
        self.assertEqual(r["messages_sent"], 0)
        self.assertEqual(r["connections"], 1)
        self.assertGreaterEqual(elapsed, 1.0)
        self.assertLess(elapsed, 4 * SLOW)
        # The text form names it too.
        p = smtpsend("-p", srv.port, "-n", 1, "--timeout", 1, timeout=30 * SLOW)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stdout, r"(?m)^failures: timeout 1$")

    def check_rejected(self, verb, reply, stage_extra):
        code = reply[:3]
        srv = ScriptedServer(self, reject={verb: reply})
        p = smtpsend("-p", srv.port, "-s", 1, "-m", 2, "-n", 4, *ENVELOPE)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"(?m)^Sent 0 messages in ")
        self.assertRegex(p.stdout, r"(?m)^4 messages failed, 2 connections, ")
        self.assertRegex(p.stdout, r"(?m)^error replies: %s x4$" % code)
        self.assertNotIn("failures:", p.stdout)
        r = smtpsend_json(self, "-p", srv.port, "-s", 1, "-m", 2, "-n", 4, *ENVELOPE, expect_rc=1)
        self.assertEqual((r["messages_sent"], r["messages_failed"], r["connections"]), (0, 4, 2))
        self.assertEqual(r["reply_codes"], {code: 4})
        # Both runs: 4 connections, 8 transactions, each refused and reset.
        with srv.lock:
            counts = dict(srv.counts)
        want = {"connect": 4, "EHLO": 4, "MAIL": 8, "RSET": 8, "QUIT": 4}
        want.update(stage_extra)
        self.assertEqual(counts, want)

    def test_mail_451(self):
        self.check_rejected("MAIL", "451 4.3.0 Error: try again later", {})

    def test_mail_550(self):
        self.check_rejected("MAIL", "550 5.7.1 Sender rejected", {})

    def test_rcpt_550(self):
        self.check_rejected("RCPT", "550 5.1.1 <sink@server.example>: Recipient address rejected", {"RCPT": 8})

    def test_rcpt_451(self):
        self.check_rejected("RCPT", "451 4.3.0 Greylisted", {"RCPT": 8})

    def test_data_451(self):
        self.check_rejected("DATA", "451 4.3.0 Error: queue file write error", {"RCPT": 8, "DATA": 8})

    def test_data_554(self):
        self.check_rejected("DATA", "554 5.5.1 Error: no valid recipients", {"RCPT": 8, "DATA": 8})

    def test_bad_option(self):
        for args in (["--bogus"], ["-s", "0"], ["-n", "5", "-t", "5"], ["-p"]):
            p = smtpsend(*args, timeout=10)
            self.assertEqual(p.returncode, 2, args)
            self.assertEqual(p.stdout, "", args)
            self.assertIn("usage: smtpsend", p.stderr, args)


if __name__ == "__main__":
    unittest.main()
