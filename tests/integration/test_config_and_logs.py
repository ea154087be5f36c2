"""Configuration, logs and privileges of the real daemon.

Covers: --log-format json (every line parses with json.loads; session_close
carries the session's fields with the right values and types); peer text
in key=value logs is escaped (quotes, backslashes, control bytes, 8-bit
bytes, an attempt to inject keys) and a 1000-byte HELO (and a 613-byte
MAIL FROM) is truncated with "..."; the same escaping stays valid JSON; --check-config with a good TOML
file ([[listener]] tables, a per-listener override) exits 0 and prints the
effective values, and the override is in force when the daemon runs that
file; bad values on the command line and in the file exit 2 naming the
key; --user nobody drops to uid/gid 65534 after binding.
"""

import json
import os
import signal
import subprocess
import unittest

from spamsink_harness import (QUEUED_RE, SLOW, Daemon, SmtpConn, normal_message, parse_kv,
                              require_binary, smtplib_send, tmpfile, unescape_kv)

SESSION_KEYS = {"ts", "level", "event", "session", "listener", "mode", "ip", "port", "helo", "from", "rcpts",
                "messages", "bytes", "bytes_in", "bytes_out", "errors", "duration_ms", "end"}

# HELO arguments that must reach the log escaped, and how.
ODD_HELOS = [
    (b'quote"and\\backslash', 'quote\\"and\\\\backslash'),
    (b"ctl\x01\x1b[31mred\x7f\x1f", "ctl\\x01\\x1b[31mred\\x7f\\x1f"),
    (b"caf\xc3\xa9.\xe2\x98\x83.example", "caf\\xc3\\xa9.\\xe2\\x98\\x83.example"),
    (b'x" end=quit injected="1', 'x\\" end=quit injected=\\"1'),
]


def helo_session(addr, helo, quit=True):
    """A session that only says HELO; returns the client port."""
    with SmtpConn(addr) as c:
        r = c.cmd(b"HELO " + helo)
        if r != b"250 mx.example.test\r\n":
            raise AssertionError("HELO %r -> %r" % (helo, r))
        if quit:
            c.cmd(b"QUIT")
        return c.local_port


class ConfigAndLogsTest(unittest.TestCase):

    def tmpfile(self, name, text):
        return tmpfile(self, name, text)

    # ------------------------------------------------------------- logs

    def test_json_log(self):
        d = Daemon.start(self, json_log=True)
        msg = normal_message(8)
        smtplib_send(d.addr, "json@client.example", ["a@sink.example", "b@sink.example"], msg, helo="json.example")
        odd_ports = [(helo_session(d.addr, raw, quit=False), raw) for raw, _ in ODD_HELOS]
        d.wait_totals(self, sessions=1 + len(ODD_HELOS), messages=1, open=0)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(10 * SLOW), 0)
        lines = d.log_lines()
        parsed = [json.loads(l) for l in lines]  # every line, not only the ones we look at
        self.assertEqual([p["event"] for p in parsed[:2]], ["listening", "started"])
        self.assertEqual(parsed[-1]["event"], "stopped")
        closes = [p for p in parsed if p["event"] == "session_close"]
        self.assertEqual(len(closes), 1 + len(ODD_HELOS))
        for p in closes:
            self.assertEqual(set(p), SESSION_KEYS)
        (s,) = [p for p in closes if p["helo"] == "json.example"]
        self.assertEqual((s["from"], s["rcpts"], s["messages"], s["bytes"], s["errors"], s["end"], s["ip"], s["mode"]),
                         ("json@client.example", 2, 1, len(msg), 0, "quit", "127.0.0.1", "sink"))
        for key in ("session", "port", "bytes_in", "bytes_out", "duration_ms"):
            self.assertIsInstance(s[key], int, key)
        by_port = {p["port"]: p for p in closes}
        for port, raw in odd_ports:
            # JSON escapes each byte as \u00NN: it decodes to the bytes read
            # as Latin-1, and the line stays valid JSON.
            self.assertEqual(by_port[port]["helo"], raw.decode("latin-1"))
            self.assertEqual(by_port[port]["end"], "peer_closed")
        for l in lines:
            self.assertTrue(all(0x20 <= b < 0x7f for b in l.encode("utf-8")), l)

    def test_kv_log_escapes_peer_text(self):
        d = Daemon.start(self)
        ports = [(helo_session(d.addr, raw, quit=False), raw, esc) for raw, esc in ODD_HELOS]
        long_helo = b"".join(b"%04d:" % i for i in range(200))  # 1000 bytes
        long_port = helo_session(d.addr, long_helo)
        long_from = b"".join(b"%03d." % i for i in range(150)) + b"@long.example"  # 613 bytes
        with SmtpConn(d.addr) as c:
            c.expect(b"EHLO from.example", b"250-mx.example.test\r\n")
            self.assertEqual(c.cmd(b"MAIL FROM:<" + long_from + b">"), b"250 2.1.0 Ok\r\n")
            self.assertEqual(c.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
            from_port = c.local_port
        d.wait_totals(self, sessions=len(ports) + 2, open=0)
        d.session_closes(len(ports) + 2)
        raw_lines = {}
        for line in d.log_lines():
            if "event=session_close" in line:
                raw_lines[int(parse_kv(line)["port"])] = line
        for port, raw, esc in ports:
            line = raw_lines[port]
            self.assertTrue(all(0x20 <= ord(ch) < 0x7f for ch in line), line)
            self.assertIn(' helo="%s" ' % esc, line)
            rec = parse_kv(line)  # strict: the whole line is key=value tokens
            self.assertEqual(set(rec), SESSION_KEYS, line)
            self.assertEqual(unescape_kv(rec["helo"]), raw)
            self.assertEqual(rec["end"], "peer_closed")
        # Long peer text is cut, and the cut is marked.
        for key, port, sent in (("helo", long_port, long_helo), ("from", from_port, long_from)):
            with self.subTest(key=key, sent_bytes=len(sent)):
                logged = parse_kv(raw_lines[port])[key]
                self.assertTrue(logged.endswith("..."), "%d-byte %s logged as %d bytes without a truncation mark: %s"
                                % (len(sent), key, len(logged), logged))
                kept = unescape_kv(logged[:-3])
                self.assertTrue(sent.startswith(kept))
                self.assertLess(len(kept), len(sent))
                self.assertLessEqual(len(kept), 256)

    # ----------------------------------------------------------- config

    GOOD_TOML = """\
# global limits
message_size_limit = "20M"
recipient_limit = 50
command_timeout = "30s"
max_conns_per_ip = 7

[[listener]]
mode = "sink"
address = "127.0.0.1:0"
message_size_limit = 1000

[[listener]]
address = "127.0.0.2:0"
recipient_limit = 2
"""

    def test_check_config_good_file(self):
        path = self.tmpfile("good.toml", self.GOOD_TOML)
        p = subprocess.run([require_binary(), "--check-config", "--config", path], capture_output=True, text=True,
                           timeout=30 * SLOW)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        head, *listeners = p.stdout.split("[[listener]]\n")
        self.assertTrue(head.startswith("# configuration ok\n"), p.stdout)
        self.assertIn("max_conns_per_ip = 7\n", head)

        def values(block):
            return dict(l.split(" = ", 1) for l in block.strip().split("\n"))

        self.assertEqual(len(listeners), 2, p.stdout)
        l1, l2 = values(listeners[0]), values(listeners[1])
        self.assertEqual((l1["address"], l1["message_size_limit"], l1["recipient_limit"], l1["command_timeout"]),
                         ('"127.0.0.1:0"', "1000", "50", '"30s"'))
        self.assertEqual((l2["address"], l2["message_size_limit"], l2["recipient_limit"], l2["command_timeout"]),
                         ('"127.0.0.2:0"', str(20 << 20), "2", '"30s"'))

        # The same file, running: each listener has its own limits.
        d = Daemon.start(self, config=path, sinks=(), listeners=2)
        a1, a2 = d.addresses
        body = b"Subject: 2k\r\n\r\n" + b"q" * 2000 + b"\r\n"
        with SmtpConn(a1) as c:
            self.assertEqual(c.message(b"l1@client.example", [b"a@sink.example"], body),
                             b"552 5.3.4 Error: message file too big\r\n")
            self.assertEqual(c.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
        with SmtpConn(a2) as c:
            c.expect(b"EHLO l2.example", b"250-mx.example.test\r\n")
            c.expect(b"MAIL FROM:<l2@client.example>", b"250 2.1.0")
            c.expect(b"RCPT TO:<a@sink.example>", b"250 2.1.5")
            c.expect(b"RCPT TO:<b@sink.example>", b"250 2.1.5")
            self.assertEqual(c.cmd(b"RCPT TO:<c@sink.example>"), b"452 4.5.3 Error: too many recipients\r\n")
            c.expect(b"DATA", b"354 ")
            c.send(body + b".\r\n")
            self.assertRegex(c.reply(), QUEUED_RE)
            self.assertEqual(c.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
        d.wait_totals(self, sessions=2, messages=1, recipients=2, bytes=len(body), refused_messages=1, open=0)

    def test_bad_values_exit_2_naming_the_key(self):
        cases = [
            (["--message-size-limit", "10Q"], None, ["message_size_limit", "10Q"]),
            (["--command-timeout", "5x"], None, ["command_timeout", "5x"]),
            (["--line-length-limit", "100"], None, ["line_length_limit", "100"]),
            (["--max-conns", "-1"], None, ["max_conns", "-1"]),
            (["--log-format", "xml"], None, ["log_format", "xml"]),
            (["--sink", "localhost:25"], None, ["address", "localhost:25"]),
            ([], "frobnicate = 1\n", ["frobnicate", "unknown key"]),
            ([], 'message_size_limit = "10Q"\n', ["message_size_limit", "10Q", "line 1"]),
            ([], '[[listener]]\naddress = "localhost:25"\n', ["listener.address", "localhost:25"]),
            ([], '[[listener]]\naddress = "127.0.0.1:0"\ncommand_timeout = "5x"\n',
             ["listener.command_timeout", "5x"]),
            ([], '[[listener]]\naddress = "127.0.0.1:0"\ncolour = "blue"\n', ["listener.colour", "unknown key"]),
            ([], "message_size_limit = [\n", ["bad.toml", "line 1"]),
        ]
        for args, toml, words in cases:
            cmd = [require_binary(), "--check-config"] + args
            if toml is not None:
                cmd += ["--config", self.tmpfile("bad.toml", toml)]
            with self.subTest(args=args, toml=toml):
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=30 * SLOW)
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertEqual(p.stdout, "")
                for w in words:
                    self.assertIn(w, p.stderr)
                # One clear message, not a dump.
                self.assertLessEqual(len(p.stderr.strip().split("\n")), 2, p.stderr)

    # ------------------------------------------------------- privileges

    def test_user_nobody(self):
        self.assertEqual(os.geteuid(), 0, "this test needs root (it checks the drop to nobody)")
        d = Daemon.start(self, "--user", "nobody")
        self.assertEqual(d.proc_status("Uid"), ["65534"] * 4)
        self.assertEqual(d.proc_status("Gid"), ["65534"] * 4)
        self.assertEqual(d.proc_status("Groups"), [])
        (started,) = d.records("started")
        self.assertEqual(started["uid"], "65534")
        # Still serving after the drop (the listener was bound as root).
        msg = normal_message(65)
        smtplib_send(d.addr, "nobody@client.example", ["a@sink.example"], msg)
        d.wait_totals(self, sessions=1, messages=1, recipients=1, bytes=len(msg), open=0)


if __name__ == "__main__":
    unittest.main()
