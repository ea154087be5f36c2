"""Signals to the real daemon: stop, reload, totals.

Covers: SIGTERM with an idle session and --shutdown-grace 1s (the client
gets 421 4.3.2 after the grace, new connections are refused at once, the
process exits 0 within ~3 s and logs event=stopped); a session that
finishes inside the grace completes normally and the daemon exits without
waiting out the rest of the grace; SIGINT; SIGHUP with a changed TOML file
(message_size_limit takes effect for new sessions, open sessions keep
theirs); SIGHUP with a broken file (event=reload_failed, old config kept,
still serving); SIGUSR1 totals matching exactly what clients did.
"""

import os
import signal
import socket
import tempfile
import time
import unittest

from spamsink_harness import (GREETING, QUEUED_RE, SANITIZED, SHUTDOWN_421, SLOW, Daemon, SmtpConn, dot_stuff,
                              normal_message, smtplib_send)

# ASan's exit (leak check) adds a little to the exit time.
EXIT_BOUND = 3.0 + (2.0 if SANITIZED else 0.0)


class SignalsTest(unittest.TestCase):

    def test_sigterm_idle_session_gets_421_after_grace(self):
        d = Daemon.start(self, grace="1s")
        with SmtpConn(d.addr) as c:
            c.expect(b"EHLO idle.example", b"250-mx.example.test\r\n")
            t0 = time.monotonic()
            d.signal(signal.SIGTERM)
            time.sleep(0.3)
            # Listeners close at once: new clients are refused.
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(d.addr, timeout=5).close()
            self.assertEqual(c.read_to_eof(timeout=5 * SLOW), SHUTDOWN_421)
            t_421 = time.monotonic() - t0
            port = c.local_port
        rc = d.wait_exit(10 * SLOW)
        t_exit = time.monotonic() - t0
        self.assertEqual(rc, 0)
        self.assertGreater(t_421, 0.9)
        self.assertLess(t_421, 2.0)
        self.assertLess(t_exit, EXIT_BOUND)
        s = d.session_by_port(port, timeout=1)
        self.assertEqual((s["helo"], s["end"]), ("idle.example", "shutdown"))
        (stopped,) = d.records("stopped")
        self.assertEqual((stopped["sessions"], stopped["messages"], stopped["open"]), ("1", "0", "0"))
        (stopping,) = d.records("stopping")
        self.assertEqual((stopping["signal"], stopping["open"], stopping["grace"]), ("15", "1", "1s"))

    def test_session_finishing_inside_grace_completes(self):
        d = Daemon.start(self, grace="5s")
        msg = normal_message(9)
        stuffed = dot_stuff(msg)
        with SmtpConn(d.addr) as c:
            c.expect(b"EHLO finishing.example", b"250-mx.example.test\r\n")
            c.expect(b"MAIL FROM:<fin@client.example>", b"250 2.1.0")
            c.expect(b"RCPT TO:<a@sink.example>", b"250 2.1.5")
            c.expect(b"DATA", b"354 ")
            c.send(stuffed[:20])
            d.signal(signal.SIGTERM)
            time.sleep(0.5)
            c.send(stuffed[20:] + b".\r\n")
            self.assertRegex(c.reply(), QUEUED_RE)
            self.assertEqual(c.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
            t_quit = time.monotonic()
            port = c.local_port
        # The last session is done: no need to wait out the 5 s grace.
        self.assertEqual(d.wait_exit(10 * SLOW), 0)
        self.assertLess(time.monotonic() - t_quit, 1.5 * SLOW)
        s = d.session_by_port(port, timeout=1)
        self.assertEqual((s["end"], s["messages"], s["bytes"]), ("quit", "1", str(len(msg))))
        (stopped,) = d.records("stopped")
        self.assertEqual((stopped["sessions"], stopped["messages"], stopped["recipients"], stopped["bytes"]),
                         ("1", "1", "1", str(len(msg))))

    def test_sigint_stops(self):
        d = Daemon.start(self)
        smtplib_send(d.addr, "a@client.example", ["b@sink.example"], normal_message(0))
        t0 = time.monotonic()
        d.signal(signal.SIGINT)
        self.assertEqual(d.wait_exit(10 * SLOW), 0)
        self.assertLess(time.monotonic() - t0, EXIT_BOUND)
        (stopping,) = d.records("stopping")
        self.assertEqual(stopping["signal"], "2")
        (stopped,) = d.records("stopped")
        self.assertEqual((stopped["sessions"], stopped["messages"]), ("1", "1"))

    def write_config(self, text):
        with open(self.config_path, "w") as f:
            f.write(text)

    def test_sighup_reload(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.config_path = os.path.join(tmp.name, "spamsink.toml")
        self.write_config("# before\nmessage_size_limit = 100000\n")
        d = Daemon.start(self, config=self.config_path)
        small = normal_message(1)
        big = b"Subject: big\r\n\r\n" + (b"y" * 98 + b"\r\n") * 60  # 6016 bytes
        old = SmtpConn(d.addr)
        self.addCleanup(old.close)
        self.assertIn(b"250-SIZE 100000\r\n", old.cmd(b"EHLO old.example"))

        self.write_config("# after\nmessage_size_limit = 5000\n")
        d.signal(signal.SIGHUP)
        self.assertEqual(len(d.wait_records("reloaded")), 1)
        with SmtpConn(d.addr) as c:
            self.assertIn(b"250-SIZE 5000\r\n", c.cmd(b"EHLO new.example"))
            self.assertEqual(c.cmd(b"MAIL FROM:<n@client.example> SIZE=6000"),
                             b"552 5.3.4 Message size exceeds fixed limit\r\n")
            self.assertEqual(c.message(b"n@client.example", [b"a@sink.example"], big, ehlo=None),
                             b"552 5.3.4 Error: message file too big\r\n")
            self.assertRegex(c.message(b"n@client.example", [b"a@sink.example"], small, ehlo=None), QUEUED_RE)
            self.assertEqual(c.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
        # The session opened before the reload keeps the limits it began with.
        self.assertRegex(old.message(b"o@client.example", [b"a@sink.example"], big, ehlo=None), QUEUED_RE)
        self.assertEqual(old.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
        d.wait_totals(self, sessions=2, messages=2, refused_messages=1, bytes=len(small) + len(big), open=0)

        # Broken files: logged, old config kept, still serving.
        broken = [("message_size_limit = \"12Q\"\n", "message_size_limit"),
                  ("message_size_limit = [\n", self.config_path),
                  ("frobnicate = 3\n", "frobnicate")]
        for i, (text, named) in enumerate(broken, 1):
            self.write_config(text)
            d.signal(signal.SIGHUP)
            fails = d.wait_records("reload_failed", i)
            self.assertEqual(len(fails), i, text)
            self.assertIn(named, fails[-1]["error"], text)
            self.assertTrue(d.running())
            with SmtpConn(d.addr) as c:
                self.assertIn(b"250-SIZE 5000\r\n", c.cmd(b"EHLO again.example"))
                self.assertEqual(c.message(b"n@client.example", [b"a@sink.example"], big, ehlo=None),
                                 b"552 5.3.4 Error: message file too big\r\n")
                self.assertRegex(c.message(b"n@client.example", [b"a@sink.example"], small, ehlo=None), QUEUED_RE)
                self.assertEqual(c.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
        self.assertEqual(len(d.records("reloaded")), 1)
        d.wait_totals(self, sessions=5, messages=5, refused_messages=4, bytes=4 * len(small) + len(big), open=0)

    def test_sigusr1_totals(self):
        d = Daemon.start(self, "--max-conns-per-ip", "2", "--message-size-limit", "1000")
        zero = d.totals()
        self.assertEqual(zero, dict.fromkeys(zero, 0))
        m1, m2, m3 = normal_message(1), normal_message(22), normal_message(333)
        big = b"Subject: big\r\n\r\n" + b"z" * 1200 + b"\r\n"
        # Session 1: two messages, 3 + 1 recipients.
        import smtplib
        with smtplib.SMTP("127.0.0.1", d.port, timeout=10 * SLOW) as s:
            s.sendmail("s1@client.example", ["a@sink.example", "b@sink.example", "c@sink.example"], m1)
            s.sendmail("s1@client.example", ["d@sink.example"], m2)
        # Session 2: one refused (too big), one accepted with 2 recipients.
        with SmtpConn(d.addr) as c:
            self.assertEqual(c.message(b"s2@client.example", [b"e@sink.example"], big),
                             b"552 5.3.4 Error: message file too big\r\n")
            self.assertRegex(c.message(b"s2@client.example", [b"f@sink.example", b"g@sink.example"], m3, ehlo=None),
                             QUEUED_RE)
            self.assertEqual(c.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
        # Two held connections (the per-IP cap); a third is refused.
        held = SmtpConn(d.addr)
        self.addCleanup(held.close)
        with SmtpConn(d.addr) as second:
            self.assertEqual(second.greeting, GREETING)
            with SmtpConn(d.addr, read_greeting=False) as third:
                self.assertTrue(third.read_to_eof().startswith(b"421 4.7.0 "))
        expected = dict(sessions=4, messages=3, recipients=6, bytes=len(m1) + len(m2) + len(m3),
                        refused_messages=1, refused_connections=1, early_talkers=0, open=1)
        t = d.wait_totals(self, **expected)
        self.assertEqual(t, expected)
        # Asking again changes nothing and logs one more line.
        n = len(d.records("totals"))
        self.assertEqual(d.totals(), expected)
        self.assertEqual(len(d.records("totals")), n + 1)


if __name__ == "__main__":
    unittest.main()
