"""Greet delay and early talkers on sink listeners (postscreen's pregreet
test, qpsmtpd's earlytalker): a client that talks before the greeting is
whole, or sends its message before our 354, is recorded and, by policy,
ignored, rejected or deferred. The default for sink listeners is no delay.
Delays here are one or two seconds, so no test sleeps long.
"""
import socket
import subprocess
import time
import unittest

from spamsink_harness import SLOW, Daemon, HOSTNAME, require_binary
from test_tarpit import read_until

GREETING = ("220 %s ESMTP Postfix (Debian/GNU)\r\n" % HOSTNAME).encode()
TEASER = ("220-%s ESMTP Postfix (Debian/GNU)\r\n" % HOSTNAME).encode()


def recv_lines(sock, count, timeout):
    """Reads until `count` CRLFs arrived, EOF or the timeout."""
    return read_until(sock, count, timeout)[0]


class SinkEarlyTalkTest(unittest.TestCase):
    def test_no_delay_by_default(self):
        d = Daemon.start(self)
        with socket.create_connection(d.addr, timeout=10) as s:
            t0 = time.monotonic()
            self.assertEqual(recv_lines(s, 1, 5 * SLOW), GREETING)
            self.assertLess(time.monotonic() - t0, 0.5 * SLOW)

    def test_greet_delay_with_teaser_then_a_normal_session(self):
        d = Daemon.start(self, "--greet-delay", "1s", "--greet-teaser", "yes")
        with socket.create_connection(d.addr, timeout=10) as s:
            t0 = time.monotonic()
            self.assertEqual(recv_lines(s, 1, 5 * SLOW), TEASER)
            self.assertEqual(recv_lines(s, 1, 5 * SLOW), GREETING)
            self.assertGreater(time.monotonic() - t0, 0.9)
            s.sendall(b"HELO polite.example\r\n")
            self.assertEqual(recv_lines(s, 1, 5 * SLOW), b"250 %s\r\n" % HOSTNAME.encode())
            port = s.getsockname()[1]
            s.sendall(b"QUIT\r\n")
            recv_lines(s, 1, 5 * SLOW)
        self.assertNotIn("early_talker", d.session_by_port(port))

    def test_reject_perm_and_temp(self):
        for kind, text in (("perm", b"521 5.5.1 Protocol error\r\n"),
                           ("temp", b"421 4.7.0 %s Error: Protocol error\r\n" % HOSTNAME.encode())):
            d = Daemon.start(self, "--greet-delay", "2s", "--early-talker", "reject",
                             "--early-talker-reject-type", kind)
            with socket.create_connection(d.addr, timeout=10) as s:
                t0 = time.monotonic()
                s.sendall(b"EHLO early.example\r\n")
                self.assertEqual(recv_lines(s, 1, 5 * SLOW), text)
                self.assertEqual(s.recv(10), b"")
                # Rejected at once, not after the delay.
                self.assertLess(time.monotonic() - t0, 1.5)
                port = s.getsockname()[1]
            rec = d.session_by_port(port)
            self.assertEqual((rec["end"], rec["early_talker"], rec["early_bytes"]),
                             ("early_talker", "true", "EHLO early.exampl"[:16]))
            d.wait_totals(self, sessions=1, early_talkers=1, open=0)

    def test_ignore_answers_the_early_commands_after_the_greeting(self):
        d = Daemon.start(self, "--greet-delay", "1s")
        with socket.create_connection(d.addr, timeout=10) as s:
            s.sendall(b"HELO early.example\r\n")
            buf = recv_lines(s, 2, 5 * SLOW)
            self.assertEqual(buf, GREETING + b"250 %s\r\n" % HOSTNAME.encode())
            port = s.getsockname()[1]
        self.assertEqual(d.session_by_port(port)["early_talker"], "true")

    def test_defer_refuses_mail_and_rcpt(self):
        d = Daemon.start(self, "--greet-delay", "1s", "--early-talker", "defer")
        with socket.create_connection(d.addr, timeout=10) as s:
            s.sendall(b"HELO early.example\r\n")
            self.assertTrue(recv_lines(s, 2, 5 * SLOW).startswith(GREETING))
            s.sendall(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n")
            self.assertEqual(recv_lines(s, 2, 5 * SLOW), b"550 5.5.1 Protocol error\r\n" * 2)

    def test_message_before_the_354_is_an_early_talk(self):
        d = Daemon.start(self, "--early-talker", "reject")  # no greet delay needed
        with socket.create_connection(d.addr, timeout=10) as s:
            self.assertEqual(recv_lines(s, 1, 5 * SLOW), GREETING)
            s.sendall(b"HELO bot.example\r\n")
            recv_lines(s, 1, 5 * SLOW)
            s.sendall(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: x\r\n\r\nspam\r\n.\r\n")
            self.assertEqual(recv_lines(s, 3, 5 * SLOW),
                             b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n521 5.5.1 Protocol error\r\n")
            port = s.getsockname()[1]
        rec = d.session_by_port(port)
        self.assertEqual((rec["end"], rec["early_talker"], rec["messages"]), ("early_talker", "true", "0"))

    def test_allowlisted_clients_are_not_talkers(self):
        d = Daemon.start(self, "--greet-delay", "1s", "--early-talker", "reject", "--early-talker-allow",
                         "127.0.0.0/8")
        with socket.create_connection(d.addr, timeout=10) as s:
            s.sendall(b"HELO early.example\r\n")
            self.assertTrue(recv_lines(s, 2, 5 * SLOW).startswith(GREETING))
            port = s.getsockname()[1]
        self.assertNotIn("early_talker", d.session_by_port(port))

    def test_greet_delay_must_be_shorter_than_the_command_timeout(self):
        out = subprocess.run([require_binary(), "--greet-delay", "2s", "--command-timeout", "1s", "--check-config"],
                             capture_output=True, timeout=30 * SLOW, check=False)
        self.assertEqual(out.returncode, 2)
        self.assertIn(b"greet_delay (2s) must be shorter than command_timeout (1s)", out.stderr + out.stdout)


if __name__ == "__main__":
    unittest.main()
