"""Relay mode and spamtraps against the real daemon (issue 6).

Covers: a relay listener answers as a relaying MTA (250 ... queued as) for
any domain and records relay attempts, relay tests and domains in its
session lines; with --relay-threshold N and a local spamsink sink as the
smarthost, clients bound to 127.0.0.2..4 each send more than N messages
and exactly N per host arrive at the smarthost (counted by MAIL FROM in
the smarthost's session lines), each with one recipient; the hourly cap
(--relay-forward-max) holds over all hosts and both worker threads; a
message above --relay-forward-size is not forwarded and still uses up the
host's turn; a dead smarthost costs a log line, never the session; the
stalled smarthost holds neither the client nor the stop; the config
check refuses a threshold without a smarthost, naming both keys;
--spamtrap-file marks sink and relay sessions (trap_hit, trap_rcpt), a bad
file stops the start with the line named, and SIGHUP with a broken file
keeps the old list while a good one replaces it.
"""

import os
import signal
import socket
import subprocess
import time
import unittest

from spamsink_harness import QUEUED_RE, SLOW, Daemon, SmtpConn, require_binary, tmpfile

SOURCES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")


def body(n, extra=b""):
    return b"Subject: relay %d\r\n\r\nhello %d\r\n%s" % (n, n, extra)


def send(addr, source, mail_from, rcpts, data):
    """One session from `source`: one message, QUIT; returns the final reply."""
    with SmtpConn(addr, source=source) as c:
        r = c.message(mail_from, rcpts, data)
        c.cmd(b"QUIT")
        return r


class RelayTest(unittest.TestCase):

    def smarthost(self):
        return Daemon.start(self, hostname="smarthost.example.test")

    def relay(self, *extra, sinks=()):
        return Daemon.start(self, "--relay", "127.0.0.1:0", *extra, sinks=sinks, listeners=len(sinks) + 1)

    def arrivals(self, smart, expected, timeout=None):
        """Waits for `expected` sessions at the smarthost (and a moment for
        any extra one); returns {from: [session records]}."""
        smart.wait_records("session_close", expected, timeout, pred=lambda r: r["messages"] != "0")
        time.sleep(0.5 * SLOW)  # an extra arrival would show up here
        out = {}
        for r in smart.records("session_close"):
            if r["messages"] != "0":
                out.setdefault(r["from"], []).append(r)
        return out

    def tmpfile(self, name, text):
        return tmpfile(self, name, text)

    # --------------------------------------------------------- relay facts

    def test_relay_accepts_any_domain_and_records_attempts(self):
        d = self.relay()
        with SmtpConn(d.addr) as c:
            r = c.message(b"bot@spam.example", [b"a@victim.example", b"b@VICTIM.example", b"c@other.example"],
                          body(1))
            self.assertRegex(r, QUEUED_RE)
            # Same domain, our own address in a small body: a relay test.
            r = c.message(b"bot@spam.example", [b"x@spam.example"], body(2, b"relay check via 127.0.0.1\r\n"),
                          ehlo=None)
            self.assertRegex(r, QUEUED_RE)
            # Same domain, a longer address that merely starts with ours: not one.
            r = c.message(b"bot@spam.example", [b"y@spam.example"], body(3, b"via 127.0.0.10\r\n"), ehlo=None)
            self.assertRegex(r, QUEUED_RE)
            c.cmd(b"QUIT")
            port = c.local_port
        s = d.session_by_port(port)
        self.assertEqual(s["mode"], "relay")
        self.assertEqual((s["messages"], s["relay_attempts"], s["relay_tests"], s["forwarded"]), ("3", "3", "2", "0"))
        self.assertEqual(s["relay_domains"], "victim.example,other.example,spam.example")
        self.assertNotIn("trap_hit", s)
        t = d.totals()
        self.assertEqual(t["messages"], 3)
        self.assertEqual(d.records("relay_forward"), [])  # threshold 0: nothing leaves

    # ----------------------------------------------------------- forwarding

    def test_threshold_forwards_exactly_n_per_host(self):
        n, per_host = 2, 4
        smart = self.smarthost()
        d = self.relay("--relay-threshold", str(n), "--relay-smarthost", "127.0.0.1:%d" % smart.port,
                       "--relay-forward-max", "100")
        for i in range(per_host):
            for src in SOURCES:
                frm = b"bot-%s@spam.example" % src.encode()
                r = send(d.addr, src, frm, [b"first@victim.example", b"second@victim.example"], body(i))
                self.assertRegex(r, QUEUED_RE)
        lines = d.wait_records("relay_forward", n * len(SOURCES))
        self.assertEqual(len(lines), n * len(SOURCES), d.log_text()[-2000:])
        for l in lines:
            self.assertEqual(l["result"], "ok", l)
            self.assertEqual(l["rcpt"], "first@victim.example")
            self.assertIn(l["host"], SOURCES)
        got = self.arrivals(smart, n * len(SOURCES))
        self.assertEqual(sorted(got), sorted("bot-%s@spam.example" % s for s in SOURCES))
        for frm, recs in got.items():
            self.assertEqual(len(recs), n, frm)
            for r in recs:
                self.assertEqual((r["rcpts"], r["messages"], r["helo"]), ("1", "1", "mx.example.test"))
                self.assertEqual(r["bytes"], str(len(body(0))))  # one-digit counters: same size each
        t = d.totals()
        self.assertEqual(t["messages"], per_host * len(SOURCES))
        relay_lines = d.records("totals")[-1]
        self.assertEqual(relay_lines["forwarded"], str(n * len(SOURCES)))
        self.assertEqual(relay_lines["relay_attempts"], str(per_host * len(SOURCES)))

    def test_hourly_cap_holds_over_all_hosts(self):
        cap = 4
        smart = self.smarthost()
        d = self.relay("--relay-threshold", "3", "--relay-smarthost", "127.0.0.1:%d" % smart.port,
                       "--relay-forward-max", str(cap))
        for i in range(4):
            for src in SOURCES:
                r = send(d.addr, src, b"cap-%s@spam.example" % src.encode(), [b"v@victim.example"], body(i))
                self.assertRegex(r, QUEUED_RE)
        lines = d.wait_records("relay_forward", cap)
        got = self.arrivals(smart, cap)
        self.assertEqual(sum(len(v) for v in got.values()), cap, got)
        self.assertEqual(len(d.records("relay_forward")), cap)
        self.assertTrue(all(l["result"] == "ok" for l in lines))
        self.assertEqual(d.totals()["messages"], 4 * len(SOURCES))

    def test_too_big_is_not_forwarded_and_uses_the_turn(self):
        smart = self.smarthost()
        d = self.relay("--relay-threshold", "2", "--relay-smarthost", "127.0.0.1:%d" % smart.port,
                       "--relay-forward-size", "1K")
        big = body(0, b"x" * 70 + b"\r\n") * 20  # > 1 KiB
        self.assertRegex(send(d.addr, "127.0.0.2", b"big@spam.example", [b"v@victim.example"], big), QUEUED_RE)
        for i in range(2):
            self.assertRegex(send(d.addr, "127.0.0.2", b"small@spam.example", [b"v@victim.example"], body(i)),
                             QUEUED_RE)
        got = self.arrivals(smart, 1)
        self.assertEqual({k: len(v) for k, v in got.items()}, {"small@spam.example": 1})
        self.assertEqual(len(d.wait_records("relay_forward", 1)), 1)

    def test_dead_smarthost_costs_a_log_line(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
        s.close()  # nothing listens there now
        d = self.relay("--relay-threshold", "1", "--relay-smarthost", "127.0.0.1:%d" % dead_port)
        self.assertRegex(send(d.addr, "127.0.0.2", b"a@spam.example", [b"v@victim.example"], body(1)), QUEUED_RE)
        (line,) = d.wait_records("relay_forward", 1)
        self.assertEqual(line["result"], "connect_failed")
        self.assertEqual(line["host"], "127.0.0.2")
        # The server goes on.
        self.assertRegex(send(d.addr, "127.0.0.3", b"b@spam.example", [b"v@victim.example"], body(2)), QUEUED_RE)
        self.assertTrue(d.running())

    def test_stalled_smarthost_does_not_hold_the_session_or_the_stop(self):
        stall = socket.socket()
        stall.bind(("127.0.0.1", 0))
        stall.listen(8)  # connections complete in the backlog; nobody ever greets
        self.addCleanup(stall.close)
        d = self.relay("--relay-threshold", "1", "--relay-smarthost", "127.0.0.1:%d" % stall.getsockname()[1])
        t0 = time.monotonic()
        self.assertRegex(send(d.addr, "127.0.0.2", b"a@spam.example", [b"v@victim.example"], body(1)), QUEUED_RE)
        self.assertLess(time.monotonic() - t0, 2 * SLOW)  # the client never waits for the smarthost
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(5 * SLOW), 0)
        (line,) = d.records("relay_forward")
        self.assertEqual(line["result"], "shutdown")

    def test_threshold_without_smarthost_is_a_config_error(self):
        p = subprocess.run([require_binary(), "--relay", "127.0.0.1:0", "--relay-threshold", "2", "--check-config"],
                           capture_output=True, timeout=10 * SLOW)
        self.assertEqual(p.returncode, 2)
        err = p.stderr.decode()
        self.assertIn("relay_threshold", err)
        self.assertIn("relay_smarthost", err)
        ok = subprocess.run([require_binary(), "--relay", "127.0.0.1:0", "--relay-threshold", "2",
                             "--relay-smarthost", "127.0.0.1:25", "--check-config"],
                            capture_output=True, timeout=10 * SLOW)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn(b"relay_threshold = 2", ok.stdout)

    # ------------------------------------------------------------- traps

    def test_spamtraps_on_sink_and_relay(self):
        traps = self.tmpfile("traps.txt", "# test traps\ntrap@example.test\n*@trap.example\n*@*.traps.example\n")
        d = self.relay("--spamtrap-file", traps, sinks=("127.0.0.1:0",))
        sink_addr, relay_addr = d.addresses[0], d.addresses[1]
        cases = [
            (sink_addr, [b"ok@example.test", b"TRAP@example.test"], "TRAP@example.test"),
            (relay_addr, [b"x@a.b.traps.example"], "x@a.b.traps.example"),
            (relay_addr, [b"someone@trap.example", b"ok@x.example"], "someone@trap.example"),
            (sink_addr, [b"ok@example.test", b"x@traps.example"], None),
        ]
        ports = []
        for addr, rcpts, _ in cases:
            with SmtpConn(addr) as c:
                self.assertRegex(c.message(b"bot@spam.example", rcpts, body(1)), QUEUED_RE)
                c.cmd(b"QUIT")
                ports.append(c.local_port)
        for port, (_, _, trapped) in zip(ports, cases):
            s = d.session_by_port(port)
            if trapped is None:
                self.assertNotIn("trap_hit", s)
            else:
                self.assertEqual((s["trap_hit"], s["trap_rcpt"]), ("true", trapped))
        d.totals()
        self.assertEqual(d.records("totals")[-1]["trap_hits"], "3")

    def test_bad_spamtrap_file_stops_the_start(self):
        bad = self.tmpfile("bad.txt", "ok@example.test\nnot an address\n")
        p = subprocess.run([require_binary(), "--sink", "127.0.0.1:0", "--spamtrap-file", bad],
                           capture_output=True, timeout=10 * SLOW)
        self.assertEqual(p.returncode, 2)
        err = p.stderr.decode()
        self.assertIn("spamtrap_file", err)
        self.assertIn("line 2", err)

    def test_reload_keeps_the_old_list_on_error(self):
        path = self.tmpfile("traps.txt", "old@example.test\n")
        d = Daemon.start(self, "--spamtrap-file", path)

        def trapped(rcpt):
            with SmtpConn(d.addr) as c:
                self.assertRegex(c.message(b"bot@spam.example", [rcpt], body(1)), QUEUED_RE)
                c.cmd(b"QUIT")
                port = c.local_port
            return d.session_by_port(port).get("trap_hit") == "true"

        self.assertTrue(trapped(b"old@example.test"))
        with open(path, "w") as f:
            f.write("new@example.test\n*@@broken\n")
        d.signal(signal.SIGHUP)
        (fail,) = d.wait_records("reload_failed", 1)
        self.assertIn("line 2", fail["error"])
        self.assertTrue(trapped(b"old@example.test"))
        self.assertFalse(trapped(b"new@example.test"))
        with open(path, "w") as f:
            f.write("new@example.test\n")
        d.signal(signal.SIGHUP)
        self.assertEqual(len(d.wait_records("reloaded", 1)), 1)
        self.assertTrue(trapped(b"new@example.test"))
        self.assertFalse(trapped(b"old@example.test"))


if __name__ == "__main__":
    unittest.main()
