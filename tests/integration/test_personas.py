"""Personas through the real binary and real clients.

Covers: --persona exim greets and answers like Exim 4.96 with swaks (the
banner carries today's RFC 5322 date in UTC, EHLO echoes the HELO name and
the client's IP, the message is "250 OK id=..." with an Exim-style id);
--persona-file with a broken file fails at start with a message that names
the file and the key; --persona with an unknown name fails naming the key;
SIGHUP with a persona file that became broken logs reload_failed and keeps
the old persona, and a fixed file is taken on the next SIGHUP.
Traffic goes only to 127.0.0.1; every wait has a timeout.
"""

import datetime
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

from spamsink_harness import BIN, SLOW, Daemon, SmtpConn, require_binary

HERE = os.path.dirname(os.path.abspath(__file__))
POSTFIX_TOML = os.path.normpath(os.path.join(HERE, "..", "..", "personas", "postfix.toml"))

EXIM_BANNER = re.compile(r"^220 mx\.example\.test ESMTP Exim 4\.96 "
                         r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                         r"(\d{4}) (\d\d):(\d\d):(\d\d) \+0000\r\n$")


def read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def run_bin(*args):
    require_binary()
    return subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=30 * SLOW)


class PersonaTest(unittest.TestCase):

    def test_exim_with_swaks(self):
        d = Daemon.start(self, "--persona", "exim")
        # The banner's date is the wall clock at connect, within a minute.
        with SmtpConn(d.addr, read_greeting=False) as c:
            before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
            banner = c.reply()
            after = datetime.datetime.now(datetime.timezone.utc)
            m = EXIM_BANNER.match(banner.decode())
            self.assertIsNotNone(m, banner)
            when = datetime.datetime.strptime(" ".join(m.groups()[1:]), "%d %b %Y %H %M %S").replace(
                tzinfo=datetime.timezone.utc)
            self.assertEqual(m.group(1), when.strftime("%a"))
            self.assertLessEqual(before - datetime.timedelta(seconds=1), when)
            self.assertLessEqual(when, after)
            self.assertEqual(c.cmd(b"QUIT"), b"221 mx.example.test closing connection\r\n")
        p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % d.port, "--helo", "swaks.example",
                            "--from", "sender@swaks.example", "--to", "one@sink.example", "--timeout", "20"],
                           capture_output=True, text=True, timeout=60 * SLOW)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"<-  220 mx\.example\.test ESMTP Exim 4\.96 \w{3}, \d{1,2} \w{3} \d{4} "
                                   r"\d\d:\d\d:\d\d \+0000\n")
        self.assertIn("<-  250-mx.example.test Hello swaks.example [127.0.0.1]\n<-  250-SIZE 10240000\n"
                      "<-  250-8BITMIME\n<-  250-PIPELINING\n<-  250-PIPECONNECT\n<-  250-CHUNKING\n"
                      "<-  250-SMTPUTF8\n<-  250 HELP\n", p.stdout)
        self.assertIn("<-  250 Accepted\n", p.stdout)
        self.assertRegex(p.stdout, r"<-  250 OK id=1[0-9A-Za-z]{5}-000[0-9A-Za-z]{3}-[0-9A-Za-z]{2}\n")
        self.assertIn("<-  221 mx.example.test closing connection", p.stdout)
        d.wait_totals(self, sessions=2, messages=1, recipients=1, open=0)

    def test_broken_persona_file_fails_at_start(self):
        tmp = tempfile.mkdtemp(prefix="spamsink-persona-")
        self.addCleanup(shutil.rmtree, tmp, True)
        text = read_text(POSTFIX_TOML)
        cases = [
            (text.replace('quit = "221 2.0.0 Bye"', 'quit = "Bye"'), "replies.quit"),
            (text.replace('quit = "221 2.0.0 Bye"\n', ''), "replies.quit: missing"),
            (text.replace('[replies]', '[replies]\ngreting = "220 x"'), "replies.greting: unknown reply key"),
            (text.replace('overlong_line = "truncate"', 'overlong_line = "chop"'), "behaviour.overlong_line"),
            (text.replace('[ehlo]', '[ehlo\n'), "(syntax)"),
        ]
        for i, (body, named) in enumerate(cases):
            path = os.path.join(tmp, "bad%d.toml" % i)
            with open(path, "w") as f:
                f.write(body)
            r = run_bin("--persona-file", path, "--check-config")
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn(path, r.stderr)
            self.assertIn(named, r.stderr)
            self.assertIn("persona_file", r.stderr)
        r = run_bin("--persona-file", os.path.join(tmp, "missing.toml"), "--check-config")
        self.assertEqual(r.returncode, 2)
        self.assertIn("persona_file: cannot read", r.stderr)
        r = run_bin("--persona", "qmail", "--check-config")
        self.assertEqual(r.returncode, 2)
        self.assertIn("persona: bad value 'qmail'", r.stderr)
        r = run_bin("--persona", "sendmail", "--check-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('persona = "sendmail"', r.stdout)
        self.assertIn("error_limit = 25", r.stdout)  # the persona's own, as none was configured

    def test_sighup_keeps_old_persona_on_broken_file(self):
        tmp = tempfile.mkdtemp(prefix="spamsink-persona-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "mine.toml")
        good = read_text(POSTFIX_TOML)
        with open(path, "w") as f:
            f.write(good.replace('greeting = "220 {host} ESMTP Postfix (Debian/GNU)"',
                                 'greeting = "220 {host} ESMTP first"'))
        d = Daemon.start(self, "--persona-file", path)
        with SmtpConn(d.addr, read_greeting=False) as c:
            self.assertEqual(c.reply(), b"220 mx.example.test ESMTP first\r\n")
        with open(path, "w") as f:
            f.write(good.replace('greeting = "220 {host} ESMTP Postfix (Debian/GNU)"', 'greeting = "220"x'))
        d.signal(signal.SIGHUP)
        fails = d.wait_records("reload_failed", 1)
        self.assertIn(path, fails[-1]["error"])
        self.assertTrue(d.running())
        with SmtpConn(d.addr, read_greeting=False) as c:
            self.assertEqual(c.reply(), b"220 mx.example.test ESMTP first\r\n")
        with open(path, "w") as f:
            f.write(good.replace('greeting = "220 {host} ESMTP Postfix (Debian/GNU)"',
                                 'greeting = "220 {host} ESMTP second"'))
        d.signal(signal.SIGHUP)
        self.assertEqual(len(d.wait_records("reloaded", 1)), 1)
        with SmtpConn(d.addr, read_greeting=False) as c:
            self.assertEqual(c.reply(), b"220 mx.example.test ESMTP second\r\n")


if __name__ == "__main__":
    unittest.main()
