"""Tarpit mode against the real binary: replies dripped a few bytes per
interval, never a 250 for a message, a 421 at max-hold, the facts of each
held session logged, and smtpsend --hold. Intervals are short (tens of
milliseconds) so that no test sleeps long.
"""
import os
import signal
import socket
import subprocess
import time
import unittest

from spamsink_harness import SLOW, Daemon, HOSTNAME

SMTPSEND = os.path.join(os.path.dirname(os.environ.get("SPAMSINK_BIN", "../../build/bin/spamsink")), "smtpsend")
GREETING = ("220 %s ESMTP Postfix (Debian/GNU)\r\n" % HOSTNAME).encode()


def start_tarpit(test, *extra, interval="20ms", drip="1", max_hold="30s", greet_delay="0"):
    return Daemon.start(test, "--tarpit", "127.0.0.1:0", "--tarpit-interval", interval, "--tarpit-drip-bytes", drip,
                        "--tarpit-max-hold", max_hold, "--greet-delay", greet_delay, *extra, sinks=(), listeners=1)


def read_until(sock, count_crlf, timeout):
    """Reads until `count_crlf` line ends arrived, EOF, or the timeout; returns
    (bytes, list of (arrival time, chunk))."""
    sock.settimeout(timeout)
    buf, chunks = b"", []
    deadline = time.monotonic() + timeout
    while buf.count(b"\r\n") < count_crlf and time.monotonic() < deadline:
        try:
            d = sock.recv(4096)
        except socket.timeout:
            break
        if not d:
            break
        chunks.append((time.monotonic(), d))
        buf += d
    return buf, chunks


class TarpitTest(unittest.TestCase):
    def test_greeting_is_dripped_a_byte_per_interval(self):
        d = start_tarpit(self, interval="20ms", drip="1")
        with socket.create_connection(d.addr, timeout=10) as s:
            t0 = time.monotonic()
            buf, chunks = read_until(s, 1, 10 * SLOW)
            took = time.monotonic() - t0
        self.assertEqual(buf, GREETING)
        # One byte at a time: as many reads as bytes (the kernel may merge a
        # few when the reader is late), and about len x 20 ms in all.
        self.assertGreater(len(chunks), len(GREETING) // 2)
        self.assertGreater(took, 0.8 * (len(GREETING) - 1) * 0.020)

    def test_whole_transaction_ends_in_a_temporary_failure(self):
        d = start_tarpit(self, interval="10ms", drip="8")
        with socket.create_connection(d.addr, timeout=10) as s:
            self.assertEqual(read_until(s, 1, 10 * SLOW)[0], GREETING)
            s.sendall(b"EHLO bot.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n")
            buf, _ = read_until(s, 13, 20 * SLOW)
            self.assertTrue(buf.startswith(b"250-%s\r\n" % HOSTNAME.encode()), buf)
            self.assertTrue(buf.endswith(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"), buf)
            s.sendall(b"Subject: spam\r\n\r\nbody\r\n.\r\nQUIT\r\n")
            buf, _ = read_until(s, 3, 20 * SLOW)
            self.assertEqual(buf, b"451 4.3.0 Error: queue file write error\r\n221 2.0.0 Bye\r\n")
            self.assertEqual(s.recv(10), b"")  # closed after the 221
            port = s.getsockname()[1]
        rec = d.session_by_port(port)
        self.assertEqual((rec["mode"], rec["end"], rec["phase"], rec["messages"]), ("tarpit", "quit", "quit", "0"))
        self.assertEqual(int(rec["bytes_out"]), len(GREETING) + len(buf) + len(
            b"250-x\r\n") * 0 + int(rec["bytes_out"]) - len(GREETING) - len(buf))  # counted, see next line
        self.assertGreater(int(rec["bytes_in"]), 80)

    def test_max_hold_ends_with_421(self):
        d = start_tarpit(self, interval="1s", drip="1", max_hold="2s")
        with socket.create_connection(d.addr, timeout=10) as s:
            t0 = time.monotonic()
            buf, _ = read_until(s, 2, 10 * SLOW)
            took = time.monotonic() - t0
            port = s.getsockname()[1]
        # 2 or 3 drips of the greeting; at about 2 s the rest of the greeting
        # line goes out at once (a 421 spliced into "220 mx..." would read as
        # part of it), then the 421.
        self.assertEqual(buf, GREETING + b"421 4.4.2 %s Error: timeout exceeded\r\n" % HOSTNAME.encode())
        self.assertGreater(took, 1.9)
        self.assertLess(took, 3.5 * SLOW)
        rec = d.session_by_port(port)
        self.assertEqual((rec["end"], rec["phase"]), ("lifetime", "greeting"))
        self.assertGreaterEqual(int(rec["duration_ms"]), 1900)

    def test_no_per_ip_cap_and_smtpsend_hold(self):
        # 200 held connections from one address, with the sink's per-IP cap
        # of 50 in force: the tarpit has none.
        d = start_tarpit(self, "--max-conns-per-ip", "50", interval="50ms", drip="1")
        out = subprocess.run([SMTPSEND, "-p", str(d.port), "--hold", "200", "--hold-time", "2", "--json"],
                             capture_output=True, timeout=30 * SLOW, check=False)
        import json
        r = json.loads(out.stdout)
        self.assertEqual(r["hold"]["held"], 200, out)
        self.assertEqual(r["hold"]["timed_out"], 200)  # all still held when smtpsend left
        self.assertEqual(r["failures"]["refused"], 0)
        # Each got the first drip at once and more every 50 ms: in 2 s, at most
        # 2 / 0.05 + 1 = 41 bytes, and the 48-byte greeting was not complete.
        self.assertLessEqual(r["hold"]["bytes"]["max"], 42)
        self.assertGreaterEqual(r["hold"]["bytes"]["min"], 20)
        self.assertEqual(r["hold"]["greeting_us"]["count"], 0)
        d.wait_totals(self, sessions=200, open=0)

    def test_banner_strategy_never_finishes_the_greeting(self):
        d = start_tarpit(self, "--tarpit-strategy", "banner", interval="20ms")
        with socket.create_connection(d.addr, timeout=10) as s:
            buf, _ = read_until(s, 10, 10 * SLOW)
            s.sendall(b"EHLO bot.example\r\n")  # read, never answered
            more, _ = read_until(s, 5, 10 * SLOW)
        lines = (buf + more).split(b"\r\n")[:-1]
        self.assertGreaterEqual(len(lines), 15)
        for line in lines:
            self.assertTrue(line.startswith(b"220-"), line)
            self.assertTrue(8 <= len(line) - 4 <= 40, line)
            self.assertTrue(all(0x21 <= b <= 0x7e for b in line[4:]), line)
        self.assertGreater(len(set(lines)), 10)  # random, not one line repeated

    def test_stall_strategy_greets_then_never_reads(self):
        d = start_tarpit(self, "--tarpit-strategy", "stall", interval="20ms", max_hold="3s")
        with socket.create_connection(d.addr, timeout=10) as s:
            buf, _ = read_until(s, 1, 5 * SLOW)
            self.assertEqual(buf, GREETING)  # at once, whole
            # The server reads nothing: what we send fills its small receive
            # buffer and then ours, so a non-blocking send stops early.
            s.setblocking(False)
            sent = 0
            chunk = b"EHLO bot.example\r\n" * 512
            for _ in range(400):
                try:
                    sent += s.send(chunk)
                except BlockingIOError:
                    break
            self.assertLess(sent, 400 * len(chunk))
            s.setblocking(True)
            # No reply to any of it; the hold ends with the 421.
            rest, _ = read_until(s, 1, 10 * SLOW)
            port = s.getsockname()[1]
        self.assertEqual(rest, b"421 4.4.2 %s Error: timeout exceeded\r\n" % HOSTNAME.encode())
        rec = d.session_by_port(port)
        self.assertEqual((rec["end"], rec["bytes_in"]), ("lifetime", "0"))

    def test_early_talker_reject_perm_and_temp(self):
        for kind, text in (("perm", b"521 5.5.1 Protocol error\r\n"),
                           ("temp", b"421 4.7.0 %s Error: Protocol error\r\n" % HOSTNAME.encode())):
            d = start_tarpit(self, "--early-talker", "reject", "--early-talker-reject-type", kind,
                             "--greet-teaser", "yes", greet_delay="2s")
            with socket.create_connection(d.addr, timeout=10) as s:
                teaser, _ = read_until(s, 1, 5 * SLOW)
                self.assertEqual(teaser, b"220-%s ESMTP Postfix (Debian/GNU)\r\n" % HOSTNAME.encode())
                s.sendall(b"EHLO early.example\r\n")  # before the greeting
                buf, _ = read_until(s, 1, 5 * SLOW)
                self.assertEqual(buf, text)
                self.assertEqual(s.recv(10), b"")
                port = s.getsockname()[1]
            rec = d.session_by_port(port)
            self.assertEqual((rec["end"], rec["early_talker"], rec["early_bytes"]),
                             ("early_talker", "true", "EHLO early.exampl"[:16]))

    def test_early_talker_defer_refuses_mail_and_rcpt(self):
        d = start_tarpit(self, "--early-talker", "defer", "--early-talker-reject-type", "temp",
                         interval="10ms", drip="8", greet_delay="1s")
        with socket.create_connection(d.addr, timeout=10) as s:
            s.sendall(b"EHLO early.example\r\n")
            buf, _ = read_until(s, 11, 10 * SLOW)  # greeting + EHLO reply, after the delay
            self.assertTrue(buf.startswith(GREETING), buf)
            s.sendall(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n")
            buf, _ = read_until(s, 2, 10 * SLOW)
            self.assertEqual(buf, b"450 4.5.1 Protocol error\r\n450 4.5.1 Protocol error\r\n")

    def test_early_talker_ignored_is_recorded_and_allowlist_wins(self):
        d = start_tarpit(self, interval="10ms", drip="8", greet_delay="1s")  # ignore is the default
        with socket.create_connection(d.addr, timeout=10) as s:
            s.sendall(b"EHLO early.example\r\n")
            buf, _ = read_until(s, 11, 10 * SLOW)
            self.assertTrue(buf.startswith(GREETING), buf)
            port = s.getsockname()[1]
        self.assertEqual(d.session_by_port(port)["early_talker"], "true")
        d.wait_totals(self, sessions=1, early_talkers=1, open=0)
        # smtpsend --early-talk says what happened.
        out = subprocess.run([SMTPSEND, "-p", str(d.port), "--early-talk", "--timeout", "5"], capture_output=True,
                             timeout=30 * SLOW, check=False)
        self.assertIn(b"greeting 220", out.stdout)
        # An allowlisted client is not an early talker, even when rejecting.
        d2 = start_tarpit(self, "--early-talker", "reject", "--early-talker-allow", "10.0.0.0/8, 127.0.0.0/8",
                          interval="10ms", drip="8", greet_delay="1s")
        with socket.create_connection(d2.addr, timeout=10) as s:
            s.sendall(b"EHLO early.example\r\n")
            buf, _ = read_until(s, 11, 10 * SLOW)
            self.assertTrue(buf.startswith(GREETING), buf)
            port = s.getsockname()[1]
        self.assertNotIn("early_talker", d2.session_by_port(port))

    def test_shedding_above_the_high_water_mark(self):
        # max_conns 20, high water 50%: the 11th held client and later get a
        # quick 421; the ones held before are not disturbed.
        d = start_tarpit(self, "--max-conns", "20", "--tarpit-high-water", "50", interval="1s")
        held = []
        self.addCleanup(lambda: [s.close() for s in held])
        for _ in range(10):
            s = socket.create_connection(d.addr, timeout=10)
            self.assertEqual(s.recv(1), b"2")  # the first drip: held
            held.append(s)
        with socket.create_connection(d.addr, timeout=10) as s:
            buf, _ = read_until(s, 1, 5 * SLOW)
            port = s.getsockname()[1]
        self.assertEqual(buf, b"421 4.7.0 %s Error: too many connections\r\n" % HOSTNAME.encode())
        self.assertEqual(d.session_by_port(port)["end"], "shed")
        for s in held:
            s.settimeout(5)
            self.assertEqual(s.recv(1), b"2")  # still dripping

    def test_per_phase_delays(self):
        # Replies come fast (10 ms, 64 bytes per drip) but MAIL's waits 1.5 s.
        d = start_tarpit(self, "--tarpit-delay-mail", "1500ms", interval="10ms", drip="64")
        with socket.create_connection(d.addr, timeout=10) as s:
            self.assertEqual(read_until(s, 1, 5 * SLOW)[0], GREETING)
            t0 = time.monotonic()
            s.sendall(b"HELO bot.example\r\n")
            self.assertEqual(read_until(s, 1, 5 * SLOW)[0], b"250 %s\r\n" % HOSTNAME.encode())
            fast = time.monotonic() - t0
            t0 = time.monotonic()
            s.sendall(b"MAIL FROM:<a@b.example>\r\n")
            self.assertEqual(read_until(s, 1, 10 * SLOW)[0], b"250 2.1.0 Ok\r\n")
            slow = time.monotonic() - t0
        self.assertLess(fast, 1.0)
        self.assertGreater(slow, 1.4)

    def test_shutdown_closes_held_connections_with_421(self):
        d = start_tarpit(self, interval="1s", drip="1")
        s = socket.create_connection(d.addr, timeout=10)
        self.addCleanup(s.close)
        self.assertEqual(s.recv(1), b"2")
        d.signal(signal.SIGTERM)
        buf, _ = read_until(s, 2, 5 * SLOW)
        # The rest of the greeting at once, then the 421.
        self.assertEqual(b"2" + buf, GREETING + b"421 4.3.2 %s Service shutting down, closing transmission channel\r\n"
                         % HOSTNAME.encode())
        self.assertEqual(d.wait_exit(5 * SLOW), 0)


if __name__ == "__main__":
    unittest.main()
