"""Hostile and broken input against the real daemon; it must stay up.

Covers, one test each, every case followed by a normal smtplib session that
must still work and be counted: a 1 MiB command line without CRLF; NUL and
non-UTF-8 bytes; an HTTP request; 10,000 pipelined RCPTs (recipient limit,
then error limit); a 100 MB DATA (552 at the end); a client that resets
mid-DATA; 1,000 slowloris connections trickling a byte every 10 s (the
command deadline is per whole line, so they all get 421 at 15 s).

This file runs the functional checks (also under ASan). test_bad_input_rss
runs the same cases and also bounds the daemon's RSS (ctest label no-asan).
"""

import contextlib
import resource
import selectors
import socket
import struct
import sys
import threading
import time
import unittest

from spamsink_harness import (FORBIDDEN_221, GREETING, QUEUED_RE, SLOW, TIMEOUT_421, TOO_MANY_ERRORS_421, Daemon,
                              RssWatch, SmtpConn, normal_message, smtplib_send, unescape_kv)

MiB = 1 << 20
COMMAND_TIMEOUT = 15.0


class BadInputCases:
    """The cases; mixed into a TestCase by this file and by the RSS file."""

    check_rss = False

    def setUp(self):
        self.d = Daemon.start(self, "--max-conns-per-ip", "2000", "--command-timeout", "%ds" % COMMAND_TIMEOUT)
        # A first session warms the allocator up, so the RSS baseline is fair.
        self.sent_bytes = 0
        self.normal_session()

    def normal_session(self):
        """One ordinary smtplib session; the totals must show exactly it."""
        msg = normal_message(7)
        before = self.d.totals()
        smtplib_send(self.d.addr, "normal@client.example", ["a@sink.example", "b@sink.example"], msg)
        self.d.wait_totals(self, sessions=before["sessions"] + 1, messages=before["messages"] + 1,
                           recipients=before["recipients"] + 2, bytes=before["bytes"] + len(msg),
                           refused_messages=before["refused_messages"],
                           refused_connections=before["refused_connections"], open=0)

    @contextlib.contextmanager
    def case(self):
        """Runs a case; with check_rss, VmRSS must stay within 30 MB of its
        start during the case and be back within 10 MB after it."""
        watch = RssWatch(self.d) if self.check_rss else None
        if watch:
            watch.__enter__()
        try:
            yield
        finally:
            if watch:
                watch.__exit__(None, None, None)
        if watch:
            grown = watch.peak_kb - watch.start_kb
            self.assertLessEqual(grown, 30 * 1024, "RSS grew by %d kB during the case (start %d kB)"
                                 % (grown, watch.start_kb))
            # Freed memory may take a moment to be trimmed; wait a little.
            deadline = time.monotonic() + 3
            while True:
                after = self.d.rss_kb()
                if after - watch.start_kb <= 10 * 1024 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            sys.stderr.write("[%s: VmRSS start %d kB, peak %d kB, after %d kB] "
                             % (self._testMethodName, watch.start_kb, watch.peak_kb, after))
            self.assertLessEqual(after - watch.start_kb, 10 * 1024, "RSS after the case: %d kB, before: %d kB"
                                 % (after, watch.start_kb))

    # ------------------------------------------------------------- cases

    def test_megabyte_line_without_crlf(self):
        base = self.d.totals()
        msg = normal_message(1)
        with self.case():
            with SmtpConn(self.d.addr) as c:
                c.expect(b"EHLO long.example", b"250-mx.example.test\r\n")
                c.send(b"MAIL FROM:<" + b"a" * MiB)
                # No line end yet: no reply, connection still open.
                self.assertTrue(c.nothing_within(1.0))
                self.assertTrue(self.d.running())
                # Once the LF arrives, the reply is for the truncated line
                # (its '>' was cut off): Postfix's 501 for a bad address.
                self.assertEqual(c.cmd(b"@b.example>"), b"501 5.1.7 Bad sender address syntax\r\n")
                self.assertEqual(c.cmd(b"NOOP"), b"250 2.0.0 Ok\r\n")
                # The same, in many small writes: RSET's trailing 'x' is past
                # the limit, so the kept line is a bare RSET (else: 501).
                c.send(b"RSET")
                for _ in range(64):
                    c.send(b" " * (16 * 1024))
                self.assertTrue(c.nothing_within(0.3))
                self.assertEqual(c.cmd(b"x"), b"250 2.0.0 Ok\r\n")
                self.assertRegex(c.message(b"long@client.example", [b"r@sink.example"], msg, ehlo=None), QUEUED_RE)
                self.assertEqual(c.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
                port = c.local_port
            s = self.d.session_by_port(port)
            self.assertEqual((s["helo"], s["from"], s["messages"], s["rcpts"], s["bytes"], s["errors"], s["end"]),
                             ("long.example", "long@client.example", "1", "1", str(len(msg)), "1", "quit"))
            self.assertGreater(int(s["bytes_in"]), 2 * MiB)
        self.d.wait_totals(self, sessions=base["sessions"] + 1, messages=base["messages"] + 1,
                           recipients=base["recipients"] + 1, bytes=base["bytes"] + len(msg), open=0)
        self.normal_session()

    def test_nul_and_non_utf8_bytes(self):
        base = self.d.totals()
        body = b"Subject: bin\r\n\r\nnul \x00 here\r\n\x80\x81\xfe\xff latin \xe9\r\n"
        dialogue = [
            (b"NO\x00OP", b"500 5.5.2 Error: command not recognized\r\n"),
            (b"NOOP", b"250 2.0.0 Ok\r\n"),
            (b"\x00", b"500 5.5.2 Error: bad syntax\r\n"),
            (b"MAIL FROM:<a\x00b@c>", b"501 5.1.7 Bad sender address syntax\r\n"),
            (b"FOO " + bytes(range(0x80, 0x100)), b"500 5.5.2 Error: bad UTF-8 syntax\r\n"),
            (b"MAIL FROM:<\xe9@b.example>", b"500 5.5.2 Error: bad UTF-8 syntax\r\n"),
            (b"\x80\x81\x82", b"500 5.5.2 Error: bad UTF-8 syntax\r\n"),
            (b"EHLO \xff\xfe", b"500 5.5.2 Error: bad UTF-8 syntax\r\n"),
            (b"NOOP", b"250 2.0.0 Ok\r\n"),
            (b"MAIL FROM:<\xc3\xa9@b.example>", b"250 2.1.0 Ok\r\n"),
            (b"RCPT TO:<x@sink.example>", b"250 2.1.5 Ok\r\n"),
            (b"DATA", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
        ]
        with self.case():
            with SmtpConn(self.d.addr) as c:
                c.expect(b"EHLO bytes.example", b"250-mx.example.test\r\n")
                for line, want in dialogue:
                    self.assertEqual(c.cmd(line), want, line)
                # The body may hold any byte: it is counted, not judged.
                c.send(body + b".\r\n")
                self.assertRegex(c.reply(), QUEUED_RE)
                self.assertEqual(c.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
                port = c.local_port
            s = self.d.session_by_port(port)
            self.assertEqual(unescape_kv(s["from"]), b"\xc3\xa9@b.example")
            self.assertEqual((s["helo"], s["messages"], s["bytes"], s["errors"], s["end"]),
                             ("bytes.example", "1", str(len(body)), "7", "quit"))
        self.d.wait_totals(self, sessions=base["sessions"] + 1, messages=base["messages"] + 1,
                           bytes=base["bytes"] + len(body), open=0)
        self.normal_session()

    def test_http_request(self):
        base = self.d.totals()
        with self.case():
            with SmtpConn(self.d.addr) as c:
                c.expect(b"EHLO web.example", b"250-mx.example.test\r\n")
                c.send(b"GET / HTTP/1.1\r\n")
                self.assertEqual(c.read_to_eof(), FORBIDDEN_221)
                p1 = c.local_port
            # A whole request as the first thing: one 221, the rest ignored.
            with SmtpConn(self.d.addr) as c:
                c.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: x\r\n\r\n")
                self.assertEqual(c.read_to_eof(), FORBIDDEN_221)
                p2 = c.local_port
            for p, helo in ((p1, "web.example"), (p2, "")):
                s = self.d.session_by_port(p)
                self.assertEqual((s["helo"], s["messages"], s["errors"], s["end"]), (helo, "0", "0", "forbidden_command"))
        self.d.wait_totals(self, sessions=base["sessions"] + 2, messages=base["messages"], open=0)
        self.normal_session()

    def test_ten_thousand_pipelined_rcpts(self):
        base = self.d.totals()
        payload = b"EHLO many.example\r\nMAIL FROM:<many@client.example>\r\n" + b"".join(
            b"RCPT TO:<r%05d@sink.example>\r\n" % i for i in range(10000)) + b"DATA\r\n"
        send_error = []

        def sender(sock):
            try:
                sock.sendall(payload)
            except OSError as e:  # the server closes long before the end
                send_error.append(e)

        with self.case():
            with SmtpConn(self.d.addr) as c:
                t = threading.Thread(target=sender, args=(c.sock,))
                t.start()
                got = c.read_to_eof(timeout=30 * SLOW)
                t.join(timeout=30 * SLOW)
                port = c.local_port
            lines = got.split(b"\r\n")
            self.assertEqual(lines[-1], b"")
            lines = lines[:-1]
            # EHLO (10 lines), MAIL, 1000 accepted RCPTs (recipient_limit),
            # then 452 for each further RCPT: the first 1000 of those are free
            # (recipient_overshoot_limit, as Postfix), then each counts as an
            # error and the 20th (error_limit) is followed by 421 and the
            # close. The rest of the pipeline is never answered.
            self.assertEqual(len(lines), 10 + 1 + 1000 + 1000 + 20 + 1, (lines[:12], lines[-25:]))
            self.assertEqual(lines[9], b"250 CHUNKING")
            self.assertEqual(lines[10], b"250 2.1.0 Ok")
            self.assertEqual(set(lines[11:1011]), {b"250 2.1.5 Ok"})
            self.assertEqual(set(lines[1011:2031]), {b"452 4.5.3 Error: too many recipients"})
            self.assertEqual(lines[2031] + b"\r\n", TOO_MANY_ERRORS_421)
            s = self.d.session_by_port(port)
            self.assertEqual((s["messages"], s["rcpts"], s["errors"], s["end"]), ("0", "0", "20", "too_many_errors"))
        self.d.wait_totals(self, sessions=base["sessions"] + 1, messages=base["messages"],
                           recipients=base["recipients"], refused_messages=base["refused_messages"], open=0)
        self.normal_session()

    def test_hundred_megabyte_data(self):
        base = self.d.totals()
        line = b"x" * 998 + b"\r\n"
        chunk = line * 1024  # 1000 KiB; 100 of them make the 100 MB body
        msg = normal_message(2)
        with self.case():
            with SmtpConn(self.d.addr, timeout=60 * SLOW) as c:
                c.expect(b"EHLO big.example", b"250-mx.example.test\r\n")
                c.expect(b"MAIL FROM:<big@client.example>", b"250 2.1.0")
                c.expect(b"RCPT TO:<x@sink.example>", b"250 2.1.5")
                c.expect(b"DATA", b"354 ")
                t0 = time.monotonic()
                for _ in range(100):
                    c.send(chunk)
                c.send(b".\r\n")
                self.assertEqual(c.reply(), b"552 5.3.4 Error: message file too big\r\n")
                elapsed = time.monotonic() - t0
                # The transaction is over; the session is not.
                self.assertRegex(c.message(b"after@client.example", [b"y@sink.example"], msg, ehlo=None), QUEUED_RE)
                self.assertEqual(c.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
                port = c.local_port
            s = self.d.session_by_port(port)
            # The 552 counts toward the error limit, as it does in Postfix.
            self.assertEqual((s["messages"], s["rcpts"], s["bytes"], s["errors"], s["end"]),
                             ("1", "1", str(len(msg)), "1", "quit"))
            self.assertGreater(int(s["bytes_in"]), 100 * len(chunk))
        self.assertLess(elapsed, 60 * SLOW)
        self.d.wait_totals(self, sessions=base["sessions"] + 1, messages=base["messages"] + 1,
                           recipients=base["recipients"] + 1, bytes=base["bytes"] + len(msg),
                           refused_messages=base["refused_messages"] + 1, open=0)
        self.normal_session()

    def test_reset_mid_data(self):
        base = self.d.totals()
        with self.case():
            c = SmtpConn(self.d.addr)
            c.expect(b"EHLO reset.example", b"250-mx.example.test\r\n")
            c.expect(b"MAIL FROM:<reset@client.example>", b"250 2.1.0")
            c.expect(b"RCPT TO:<x@sink.example>", b"250 2.1.5")
            c.expect(b"DATA", b"354 ")
            c.send(b"Subject: cut\r\n\r\n" + b"partial line " * 1000)
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            port = c.local_port
            c.close()  # RST, no FIN
            s = self.d.session_by_port(port)
            self.assertIn(s["end"], ("reset", "peer_closed"))
            self.assertEqual((s["helo"], s["messages"], s["rcpts"], s["bytes"]), ("reset.example", "0", "0", "0"))
        self.d.wait_totals(self, sessions=base["sessions"] + 1, messages=base["messages"],
                           recipients=base["recipients"], refused_messages=base["refused_messages"], open=0)
        self.normal_session()

    def test_thousand_slowloris_connections(self):
        n = 1000
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < n + 100:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * n), hard))
        base = self.d.totals()
        sel = selectors.DefaultSelector()
        conns = {}  # socket -> [connected_at, received, closed_at]
        slack = 3.0 * SLOW
        try:
            with self.case():
                for _ in range(n):
                    s = socket.create_connection(self.d.addr, timeout=10 * SLOW)
                    s.setblocking(False)
                    conns[s] = [time.monotonic(), b"", None]
                    sel.register(s, selectors.EVENT_READ)
                first = min(v[0] for v in conns.values())
                last_connect = max(v[0] for v in conns.values())
                self.assertLess(last_connect - first, 5.0 * SLOW)
                wave, send_failures = 0, []
                deadline = last_connect + COMMAND_TIMEOUT + slack
                # One byte of "EHLO ..." per connection every 10 s.
                next_wave = first
                while sel.get_map() and time.monotonic() < deadline:
                    now = time.monotonic()
                    if now >= next_wave:
                        for s, v in conns.items():
                            if v[2] is None:
                                try:
                                    s.send(b"EHLO x"[wave:wave + 1])
                                except OSError as e:
                                    send_failures.append((wave, e))
                        wave += 1
                        next_wave = first + 10.0 * wave
                    for key, _ in sel.select(timeout=max(0.0, min(next_wave, deadline) - time.monotonic())):
                        s = key.fileobj
                        try:
                            data = s.recv(4096)
                        except (ConnectionResetError, BlockingIOError) as e:
                            data = b"" if isinstance(e, ConnectionResetError) else None
                        if data is None:
                            continue
                        if data:
                            conns[s][1] += data
                        else:
                            conns[s][2] = time.monotonic()
                            sel.unregister(s)
                # Bytes kept coming (waves at 0 s and 10 s) and every client
                # was still connected at 10 s.
                self.assertEqual(send_failures, [])
                self.assertEqual(wave, 2)
                still_open = sum(1 for v in conns.values() if v[2] is None)
                self.assertEqual(still_open, 0, "connections still open %.1f s after the last connect"
                                 % (COMMAND_TIMEOUT + slack))
                received = {}
                for v in conns.values():
                    received[v[1]] = received.get(v[1], 0) + 1
                self.assertEqual(received, {GREETING + TIMEOUT_421: n})
                held = [v[2] - v[0] for v in conns.values()]
                # Closed at the whole-line deadline: not before 15 s (a bit
                # of scheduling leeway), well before 10 s + 15 s.
                self.assertGreater(min(held), COMMAND_TIMEOUT - 0.5, min(held))
                self.assertLess(max(held), COMMAND_TIMEOUT + slack, max(held))
                closes = self.d.session_closes(n, pred=lambda r: r["end"] == "timeout")
                self.assertEqual(len(closes), n)
                self.assertEqual({(r["bytes_in"], r["messages"], r["errors"]) for r in closes}, {("2", "0", "0")})
        finally:
            for s in conns:
                s.close()
            sel.close()
        self.d.wait_totals(self, sessions=base["sessions"] + n, messages=base["messages"], open=0)
        self.normal_session()


class BadInputTest(BadInputCases, unittest.TestCase):
    check_rss = False


if __name__ == "__main__":
    unittest.main()
