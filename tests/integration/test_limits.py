"""Limits enforced by the real daemon, observed from real sockets.

Covers: the command line limit (2048 bytes kept, 2049 truncated, the
session goes on; the same at --line-length-limit 600); --recipient-limit
and --error-limit; --max-conns 50 with 50 idle clients (the 51st and later
wait in the backlog, are not refused, and one is served as soon as a
client leaves; the held slots cost < 2% of a core); --max-conns-per-ip 3
(the 4th connection from one IP gets 421, another IP does not);
--session-lifetime 2s ending a busy session with 421.
"""

import selectors
import time
import unittest

from spamsink_harness import (GREETING, QUEUED_RE, SLOW, TIMEOUT_421, TOO_MANY_ERRORS_421, Daemon, SmtpConn,
                              dot_stuff, normal_message)

TOO_MANY_CONNS_421 = b"421 4.7.0 mx.example.test Error: too many connections from 127.0.0.1\r\n"


def mail_line(total):
    """A MAIL FROM line of exactly `total` bytes, CRLF excluded, whose
    closing '>' is its last byte: cut by one byte, the address is invalid."""
    head, tail = b"MAIL FROM:<", b"@b.example>"
    return head + b"a" * (total - len(head) - len(tail)) + tail


def readable_within(conns, seconds):
    """The connections that have something to read (data or EOF) within
    `seconds`."""
    sel = selectors.DefaultSelector()
    for c in conns:
        sel.register(c.sock, selectors.EVENT_READ, c)
    try:
        return [key.data for key, _ in sel.select(timeout=seconds)]
    finally:
        sel.close()


class LimitsTest(unittest.TestCase):

    def check_line_limit(self, d, limit):
        msg = normal_message(3)
        with SmtpConn(d.addr) as c:
            c.expect(b"EHLO limit.example", b"250-mx.example.test\r\n")
            kept = mail_line(limit)
            self.assertEqual(len(kept), limit)
            self.assertEqual(c.cmd(kept), b"250 2.1.0 Ok\r\n")
            self.assertEqual(c.cmd(b"RSET"), b"250 2.0.0 Ok\r\n")
            cut = mail_line(limit + 1)
            self.assertEqual(c.cmd(cut), b"501 5.1.7 Bad sender address syntax\r\n")
            # The excess was discarded up to the line end: nothing of it is
            # read as a command, and the session goes on.
            self.assertEqual(c.cmd(b"NOOP"), b"250 2.0.0 Ok\r\n")
            self.assertRegex(c.message(b"after@client.example", [b"r@sink.example"], msg, ehlo=None), QUEUED_RE)
            self.assertEqual(c.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
            port = c.local_port
        s = d.session_by_port(port)
        self.assertEqual((s["from"], s["messages"], s["bytes"], s["errors"], s["end"]),
                         ("after@client.example", "1", str(len(msg)), "1", "quit"))
        d.wait_totals(self, sessions=1, messages=1, recipients=1, bytes=len(msg), open=0)

    def test_command_line_limit_default(self):
        self.check_line_limit(Daemon.start(self), 2048)

    def test_command_line_limit_flag(self):
        self.check_line_limit(Daemon.start(self, "--line-length-limit", "600"), 600)

    def test_recipient_and_error_limits(self):
        d = Daemon.start(self, "--recipient-limit", "3", "--recipient-overshoot-limit", "1", "--error-limit", "2")
        with SmtpConn(d.addr) as c:
            c.expect(b"EHLO rcpt.example", b"250-mx.example.test\r\n")
            c.expect(b"MAIL FROM:<r@client.example>", b"250 2.1.0")
            for i in range(3):
                self.assertEqual(c.cmd(b"RCPT TO:<r%d@sink.example>" % i), b"250 2.1.5 Ok\r\n")
            # The first refusal past the limit is free (overshoot 1), the next
            # two count as errors and the second of them reaches the limit.
            self.assertEqual(c.cmd(b"RCPT TO:<r3@sink.example>"), b"452 4.5.3 Error: too many recipients\r\n")
            self.assertEqual(c.cmd(b"RCPT TO:<r4@sink.example>"), b"452 4.5.3 Error: too many recipients\r\n")
            c.send(b"RCPT TO:<r5@sink.example>\r\n")
            self.assertEqual(c.read_to_eof(),
                             b"452 4.5.3 Error: too many recipients\r\n" + TOO_MANY_ERRORS_421)
            port = c.local_port
        s = d.session_by_port(port)
        self.assertEqual((s["errors"], s["messages"], s["end"]), ("2", "0", "too_many_errors"))
        d.wait_totals(self, sessions=1, messages=0, recipients=0, open=0)

    def fill_slots(self, d, held=50, extra=8):
        """`held` served idle clients, then `extra` connections past the
        cap. Several, because each of the two workers has a listener and a
        client lands on either."""
        idle, queued = [], []
        self.addCleanup(lambda: [c.close() for c in idle + queued])
        for _ in range(held):
            c = SmtpConn(d.addr)
            self.assertEqual(c.greeting, GREETING)
            idle.append(c)
        for _ in range(extra):
            queued.append(SmtpConn(d.addr, read_greeting=False))
        return idle, queued

    def test_max_conns_held_slots_cost_no_cpu(self):
        d = Daemon.start(self, "--max-conns", "50")
        idle, queued = self.fill_slots(d)
        d.wait_totals(self, open=50)
        # All slots held idle, clients waiting in the backlog: no polling,
        # no spinning.
        cpu0, t0 = d.cpu_seconds(), time.monotonic()
        time.sleep(5)
        cpu, wall = d.cpu_seconds() - cpu0, time.monotonic() - t0
        self.assertLess(cpu / wall, 0.02, "%.3f s CPU in %.1f s with all slots held" % (cpu, wall))
        self.assertEqual(d.totals()["open"], 50)

    def test_max_conns_waits_in_backlog(self):
        d = Daemon.start(self, "--max-conns", "50")
        idle, queued = self.fill_slots(d)
        # Past the cap the TCP handshake completes (kernel backlog), but the
        # daemon neither serves nor refuses: the listener stays open and
        # the clients wait.
        early = readable_within(queued, 1.0)
        answered = [c.read_to_eof(timeout=1) for c in early]
        for c in early:
            queued.remove(c)
        with self.subTest("connections past --max-conns wait, they are not answered"):
            self.assertEqual(answered, [])
        self.assertEqual(d.totals()["open"], 50)

        # One client leaves: exactly one queued client is served, at once.
        self.assertEqual(idle[0].cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
        idle.pop(0).close()
        served = readable_within(queued, 2.0 * SLOW)
        self.assertEqual([c.reply() for c in served], [GREETING])
        s = served[0]
        queued.remove(s)
        idle.append(s)
        self.assertEqual(readable_within(queued, 0.5), [])
        msg = normal_message(5)
        self.assertRegex(s.message(b"late@client.example", [b"r@sink.example"], msg), QUEUED_RE)
        self.assertEqual(s.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
        idle.remove(s)
        s.close()
        # That freed a slot again: the next queued client is served.
        served = readable_within(queued, 2.0 * SLOW)
        self.assertEqual([c.reply() for c in served], [GREETING])
        d.wait_totals(self, sessions=2 + len(answered), messages=1, recipients=1, bytes=len(msg),
                      refused_connections=len(answered), open=50)

    def test_max_conns_per_ip(self):
        d = Daemon.start(self, "--max-conns-per-ip", "3")
        held = [SmtpConn(d.addr) for _ in range(3)]
        self.addCleanup(lambda: [c.close() for c in held])
        self.assertEqual({c.greeting for c in held}, {GREETING})
        with SmtpConn(d.addr, read_greeting=False) as c:
            self.assertEqual(c.read_to_eof(), TOO_MANY_CONNS_421)
            refused_port = c.local_port
        # Another source address has its own count.
        with SmtpConn(d.addr, source="127.0.0.2") as other:
            self.assertEqual(other.greeting, GREETING)
            self.assertEqual(other.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
        r = d.session_by_port(refused_port)
        self.assertEqual((r["ip"], r["end"], r["bytes_in"], r["helo"]), ("127.0.0.1", "too_many_connections", "0", ""))
        self.assertEqual(int(r["bytes_out"]), len(TOO_MANY_CONNS_421))
        d.wait_totals(self, sessions=2, refused_connections=1, open=3)
        # A slot of that IP frees: the next connection from it is served.
        self.assertEqual(held[0].cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
        held.pop(0).close()
        d.wait_totals(self, sessions=3, open=2)
        with SmtpConn(d.addr) as c:
            self.assertEqual(c.greeting, GREETING)
            self.assertEqual(c.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
        d.wait_totals(self, sessions=4, refused_connections=1, open=2)

    def test_session_lifetime_ends_busy_session(self):
        d = Daemon.start(self, "--session-lifetime", "2s")
        msg = normal_message(4)
        queued = 0
        with SmtpConn(d.addr) as c:
            t0 = time.monotonic()
            c.expect(b"EHLO busy.example", b"250-mx.example.test\r\n")
            last = None
            # Busy: one message after another, every command answered at
            # once, so no command deadline is ever near.
            while time.monotonic() - t0 < 6:
                last = c.cmd(b"MAIL FROM:<busy@client.example>")
                if not last.startswith(b"250"):
                    break
                last = c.cmd(b"RCPT TO:<r@sink.example>")
                if not last.startswith(b"250"):
                    break
                last = c.cmd(b"DATA")
                if not last.startswith(b"354"):
                    break
                c.send(dot_stuff(msg) + b".\r\n")
                last = c.reply()
                if not QUEUED_RE.match(last):
                    break
                queued += 1
                time.sleep(0.05)
            elapsed = time.monotonic() - t0
            self.assertEqual(last, TIMEOUT_421)
            self.assertEqual(c.read_to_eof(), b"")
            port = c.local_port
        self.assertGreater(elapsed, 1.9)
        self.assertLess(elapsed, 2.0 + 1.0 * SLOW)
        self.assertGreater(queued, 5)
        s = d.session_by_port(port)
        self.assertEqual((s["end"], s["messages"], s["errors"]), ("lifetime", str(queued), "0"))
        d.wait_totals(self, sessions=1, messages=queued, recipients=queued, bytes=queued * len(msg), open=0)


if __name__ == "__main__":
    unittest.main()
