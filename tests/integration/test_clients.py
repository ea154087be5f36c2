"""Real SMTP clients against the real spamsink binary (sink mode).

Covers: swaks plain and --pipeline; Python smtplib with several recipients
and several messages per connection, BODY=8BITMIME and SMTPUTF8; BDAT
(CHUNKING) over a raw socket, pipelined; curl's SMTP upload; Postfix
smtp-source with 20 parallel sessions and 2000 messages; an IPv6 listener;
two listeners at once. Each test asserts that the daemon counted exactly
what the client sent: the SIGUSR1 totals and the session_close lines.
"""

import subprocess
import tempfile
import unittest

from spamsink_harness import SLOW, Daemon, SmtpConn, normal_message, smtplib_send, unescape_kv


def swaks_data_bytes(transcript):
    """Message bytes swaks says it sent: the ' -> ' lines between the 354
    reply and the lone '.', dot-unstuffed, each with its CRLF."""
    lines = transcript.split("\n")
    start = next(i for i, l in enumerate(lines) if l.startswith("<-  354 "))
    size = 0
    for l in lines[start + 1:]:
        if not l.startswith(" ->"):
            continue  # with --pipeline no server line comes in between; be lenient anyway
        text = l[4:]
        if text == ".":
            return size
        if text.startswith(".."):
            text = text[1:]
        size += len(text.encode("utf-8")) + 2
    raise AssertionError("no end of DATA in swaks transcript:\n" + transcript)


class ClientsTest(unittest.TestCase):

    def run_swaks(self, daemon, *extra):
        cmd = ["swaks", "--server", "127.0.0.1:%d" % daemon.port, "--helo", "swaks.example",
               "--from", "sender@swaks.example", "--to", "one@sink.example,two@sink.example",
               "--timeout", "20"] + list(extra)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60 * SLOW)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"<-  250 2\.0\.0 Ok: queued as [0-9A-F]{11}")
        self.assertIn("<-  221 2.0.0 Bye", p.stdout)
        return p.stdout

    def check_swaks_session(self, d, transcript, pipelined):
        size = swaks_data_bytes(transcript)
        self.assertGreater(size, 100)  # swaks' default message has headers and a body
        d.wait_totals(self, sessions=1, messages=1, recipients=2, bytes=size, refused_messages=0,
                      refused_connections=0, open=0)
        (s,) = d.session_closes(1)
        self.assertEqual((s["helo"], s["from"], s["rcpts"], s["messages"], s["bytes"], s["errors"], s["end"]),
                         ("swaks.example", "sender@swaks.example", "2", "1", str(size), "0", "quit"))
        if pipelined:
            # MAIL, both RCPTs and DATA went out before any of their replies.
            self.assertRegex(transcript, r" -> MAIL FROM:<sender@swaks\.example>\n -> RCPT TO:<one@sink\.example>\n"
                                         r" -> RCPT TO:<two@sink\.example>\n -> DATA\n<-  250 2\.1\.0 Ok")

    def test_swaks_plain(self):
        d = Daemon.start(self)
        out = self.run_swaks(d)
        self.check_swaks_session(d, out, pipelined=False)

    def test_swaks_pipeline(self):
        d = Daemon.start(self)
        out = self.run_swaks(d, "--pipeline", "--body", "line one\n.leading dot\nline three")
        self.assertIn(" -> ..leading dot", out)
        self.check_swaks_session(d, out, pipelined=True)

    def test_smtplib_several_recipients_and_messages(self):
        import smtplib
        d = Daemon.start(self)
        msgs = [normal_message(i) for i in range(3)]
        rcpts = [["r%d@sink.example" % j for j in range(n)] for n in (2, 3, 4)]
        with smtplib.SMTP("127.0.0.1", d.port, local_hostname="multi.example", timeout=10 * SLOW) as s:
            port = s.sock.getsockname()[1]
            for m, r in zip(msgs, rcpts):
                self.assertEqual(s.sendmail("multi@client.example", r, m), {})
        size = sum(len(m) for m in msgs)
        d.wait_totals(self, sessions=1, messages=3, recipients=9, bytes=size, refused_messages=0, open=0)
        s = d.session_by_port(port)
        self.assertEqual((s["helo"], s["from"], s["rcpts"], s["messages"], s["bytes"], s["errors"], s["end"]),
                         ("multi.example", "multi@client.example", "9", "3", str(size), "0", "quit"))

    def test_smtplib_8bitmime(self):
        d = Daemon.start(self)
        body = ("Subject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\nGr\u00fc\u00dfe, \u00e9t\u00e9 \u2603\r\n").encode("utf-8")
        body += bytes(range(0x80, 0x100)) + b"\r\n"
        smtplib_send(d.addr, "eight@client.example", ["x@sink.example"], body, mail_options=["BODY=8BITMIME"])
        d.wait_totals(self, sessions=1, messages=1, recipients=1, bytes=len(body), refused_messages=0, open=0)
        (s,) = d.session_closes(1)
        self.assertEqual((s["from"], s["bytes"], s["errors"], s["end"]),
                         ("eight@client.example", str(len(body)), "0", "quit"))

    def test_smtplib_smtputf8(self):
        d = Daemon.start(self)
        sender = "j\u00f6rg@ex\u00e4mple.test"
        rcpt = "\u00fc\u00df@sink.example"
        body = ("From: %s\r\nTo: %s\r\nSubject: \u00fcnic\u00f6de\r\n\r\nb\u00f6dy\r\n" % (sender, rcpt)).encode("utf-8")
        smtplib_send(d.addr, sender, [rcpt], body, mail_options=["SMTPUTF8"])
        d.wait_totals(self, sessions=1, messages=1, recipients=1, bytes=len(body), refused_messages=0, open=0)
        (s,) = d.session_closes(1)
        self.assertEqual(unescape_kv(s["from"]), sender.encode("utf-8"))
        self.assertEqual((s["rcpts"], s["messages"], s["errors"], s["end"]), ("1", "1", "0", "quit"))

    def test_bdat_pipelined(self):
        d = Daemon.start(self)
        with SmtpConn(d.addr) as c:
            self.assertIn(b"250 CHUNKING\r\n", c.cmd(b"EHLO bdat.example"))
            # 1st message: two chunks; 2nd: an empty message; 3rd: binary
            # bytes without a final line end. All pipelined in one write.
            c.send(b"MAIL FROM:<bdat@client.example>\r\nRCPT TO:<x@sink.example>\r\n"
                   b"BDAT 12\r\nSubject: x\r\n" b"BDAT 9 LAST\r\n\r\nhello\r\n"
                   b"MAIL FROM:<bdat@client.example>\r\nRCPT TO:<y@sink.example>\r\nRCPT TO:<z@sink.example>\r\n"
                   b"BDAT 0 LAST\r\n"
                   b"MAIL FROM:<bdat@client.example>\r\nRCPT TO:<w@sink.example>\r\n"
                   b"BDAT 5 LAST\r\na\x00b\nc" b"NOOP\r\n")
            replies = [c.reply() for _ in range(12)]
            queued = lambda n: rb"^250 2\.0\.0 Ok: %d bytes queued as [0-9A-F]{11}\r\n$" % n
            mail, rcpt = b"250 2.1.0 Ok\r\n", b"250 2.1.5 Ok\r\n"
            self.assertEqual(replies[:3], [mail, rcpt, b"250 2.0.0 Ok: 12 bytes\r\n"])
            self.assertRegex(replies[3], queued(21))
            self.assertEqual(replies[4:7], [mail, rcpt, rcpt])
            self.assertRegex(replies[7], queued(0))
            self.assertEqual(replies[8:10], [mail, rcpt])
            # Postfix reports the stored size: a missing final CRLF is added.
            self.assertRegex(replies[10], queued(7))
            self.assertEqual(replies[11], b"250 2.0.0 Ok\r\n")
            self.assertEqual(c.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
            port = c.local_port
        # What the client sent as message content: 21 + 0 + 5 bytes.
        d.wait_totals(self, sessions=1, messages=3, recipients=4, bytes=26, refused_messages=0, open=0)
        s = d.session_by_port(port)
        self.assertEqual((s["messages"], s["rcpts"], s["bytes"], s["errors"], s["end"]), ("3", "4", "26", "0", "quit"))

    def test_curl_upload(self):
        d = Daemon.start(self)
        content = (b"From: curl@client.example\r\nTo: a@sink.example\r\nSubject: curl\r\n\r\n"
                   b"first\r\n.dotted line\r\n..two dots\r\nlast\r\n")
        with tempfile.NamedTemporaryFile(suffix=".eml") as f:
            f.write(content)
            f.flush()
            p = subprocess.run(["curl", "-sS", "--max-time", str(int(20 * SLOW)), "--upload-file", f.name,
                                "smtp://127.0.0.1:%d/curl.example" % d.port, "--mail-from", "curl@client.example",
                                "--mail-rcpt", "a@sink.example", "--mail-rcpt", "b@sink.example"],
                               capture_output=True, text=True, timeout=30 * SLOW)
        self.assertEqual(p.returncode, 0, p.stderr)
        d.wait_totals(self, sessions=1, messages=1, recipients=2, bytes=len(content), refused_messages=0, open=0)
        (s,) = d.session_closes(1)
        self.assertEqual((s["helo"], s["from"], s["rcpts"], s["messages"], s["bytes"], s["errors"], s["end"]),
                         ("curl.example", "curl@client.example", "2", "1", str(len(content)), "0", "quit"))

    def test_smtp_source_2000_messages(self):
        d = Daemon.start(self)
        p = subprocess.run(["smtp-source", "-s", "20", "-m", "2000", "-l", "1024", "127.0.0.1:%d" % d.port],
                           capture_output=True, text=True, timeout=120 * SLOW)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        t = d.wait_totals(self, timeout=30 * SLOW, sessions=2000, messages=2000, recipients=2000,
                          refused_messages=0, refused_connections=0, open=0)
        closes = d.session_closes(2000, timeout=10 * SLOW)
        self.assertEqual(len(closes), 2000)
        # smtp-source sends one message per session: headers (their size
        # varies by a few bytes with the Message-Id) plus the 1024-byte
        # payload. The totals must be the sum of what the sessions logged.
        sizes = [int(s["bytes"]) for s in closes]
        self.assertTrue(all(1024 < n < 1024 + 300 for n in sizes), sorted(set(sizes)))
        self.assertEqual(t["bytes"], sum(sizes))
        self.assertEqual({(s["messages"], s["rcpts"], s["errors"], s["end"]) for s in closes}, {("1", "1", "0", "quit")})
        self.assertEqual(len({s["port"] for s in closes}), 2000)

    def test_ipv6_listener(self):
        d = Daemon.start(self, sinks=("[::1]:0",))
        self.assertEqual(d.addr[0], "::1")
        msg = normal_message(6)
        smtplib_send(d.addr, "six@client.example", ["a@sink.example", "b@sink.example"], msg, helo="v6.example")
        d.wait_totals(self, sessions=1, messages=1, recipients=2, bytes=len(msg), open=0)
        (s,) = d.session_closes(1)
        self.assertEqual((s["ip"], s["listener"], s["helo"], s["messages"], s["end"]),
                         ("::1", "sink:[::1]:0", "v6.example", "1", "quit"))
        # Only [::1] is bound: the IPv4 loopback on the same port is not.
        import socket
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", d.port), timeout=5).close()

    def test_two_listeners(self):
        d = Daemon.start(self, sinks=("127.0.0.1:0", "127.0.0.2:0"))
        (h1, p1), (h2, p2) = d.addresses
        self.assertEqual((h1, h2), ("127.0.0.1", "127.0.0.2"))
        self.assertNotEqual(p1, p2)
        m1, m2 = normal_message(1), normal_message(22) + b"more\r\n"
        smtplib_send((h1, p1), "l1@client.example", ["a@sink.example"], m1, helo="one.example")
        smtplib_send((h2, p2), "l2@client.example", ["b@sink.example", "c@sink.example"], m2, helo="two.example")
        d.wait_totals(self, sessions=2, messages=2, recipients=3, bytes=len(m1) + len(m2), open=0)
        by_listener = {s["listener"]: s for s in d.session_closes(2)}
        self.assertEqual(set(by_listener), {"sink:127.0.0.1:0", "sink:127.0.0.2:0"})
        self.assertEqual((by_listener["sink:127.0.0.1:0"]["helo"], by_listener["sink:127.0.0.1:0"]["bytes"]),
                         ("one.example", str(len(m1))))
        self.assertEqual((by_listener["sink:127.0.0.2:0"]["helo"], by_listener["sink:127.0.0.2:0"]["rcpts"]),
                         ("two.example", "2"))


if __name__ == "__main__":
    unittest.main()
