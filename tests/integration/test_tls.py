"""STARTTLS (issue 6, items 3 and 6): the real binary with real TLS clients.

Covers: swaks --tls delivers a message; openssl s_client -starttls smtp with
TLS 1.2 and 1.3 (and TLS 1.1 refused); Python's smtplib starttls(); the
self-signed certificate made on first start (CN = --hostname, key mode
0600, reused on the next start); --tls-cert/--tls-key with a certificate
made by `openssl req -x509`; a broken certificate, a key without a
certificate and a key that does not match: exit 2 naming the file; a broken
certificate on SIGHUP keeps the running one; TLS garbage after the 220 ends
that session only; a handshake that never comes is bounded by
command_timeout; STARTTLS twice; plaintext pipelined after STARTTLS is
never executed (CVE-2011-0411); --tls no and tarpit listeners offer no
STARTTLS. Traffic: 127.0.0.1 only; every wait is bounded.
"""

import os
import re
import signal
import smtplib
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import unittest

from spamsink_harness import BIN, HOSTNAME, SLOW, Daemon, SmtpConn, require_binary

READY = b"220 2.0.0 Ready to start TLS\r\n"


def client_context(version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


class TlsConn:
    """A raw SMTP client that switches to TLS after STARTTLS."""

    def __init__(self, conn):
        self.c = conn

    def starttls(self, ctx=None):
        self.c.sock = (ctx or client_context()).wrap_socket(self.c.sock, server_hostname=None)
        self.c.buf = b""
        return self.c.sock.version()


def s_client(port, *flags, stdin=b"QUIT\r\n"):
    return subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect", "127.0.0.1:%d" % port, "-ign_eof",
                           *flags], input=stdin, capture_output=True, timeout=20 * SLOW)


def make_cert(tmp, cn):
    cert, key = os.path.join(tmp, cn + ".crt"), os.path.join(tmp, cn + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn], check=True,
                   capture_output=True, timeout=30)
    return cert, key


def subject_of(pem_path):
    out = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in", pem_path], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    return out.strip()


class TlsTest(unittest.TestCase):
    def setUp(self):
        require_binary()
        self.tmp = tempfile.mkdtemp(prefix="spamsink-tls-")
        os.chmod(self.tmp, 0o711)

    def start(self, *extra, **kw):
        return Daemon.start(self, "--tls", "yes", *extra, **kw)

    # ---- real clients

    def test_swaks_tls_delivers(self):
        d = self.start()
        r = subprocess.run(["swaks", "--tls", "--server", "127.0.0.1:%d" % d.port, "--from", "a@client.example",
                            "--to", "x@mx.example.test", "--helo", "client.example", "--timeout", "20"],
                           capture_output=True, text=True, timeout=30 * SLOW)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("<-  250-STARTTLS\n", r.stdout)
        self.assertIn("<-  220 2.0.0 Ready to start TLS", r.stdout)
        self.assertIn("=== TLS started with cipher", r.stdout)
        self.assertIn('=== TLS peer DN="/CN=mx.example.test"', r.stdout)
        self.assertIn("<~  250 CHUNKING\n", r.stdout)  # the EHLO inside TLS ...
        self.assertNotIn("<~  250-STARTTLS", r.stdout)  # ... offers no STARTTLS
        self.assertRegex(r.stdout, r"<~  250 2\.0\.0 Ok: queued as [0-9A-F]{11}")
        # swaks sends the message inside TLS ("~>" lines are encrypted).
        self.assertIn(" ~> MAIL FROM:<a@client.example>", r.stdout)
        rec = d.session_closes(1)[0]
        self.assertEqual(rec["tls"], "true")
        self.assertEqual(rec["messages"], "1")
        self.assertEqual(rec["end"], "quit")

    def test_openssl_s_client_tls12_and_tls13(self):
        d = self.start()
        for flag, proto in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            r = s_client(d.port, flag)
            out = r.stdout.decode("utf-8", "replace")
            self.assertIn("Protocol  : " + proto if proto == "TLSv1.2" else "New, TLSv1.3", out, out[-2000:])
            self.assertIn("221 2.0.0 Bye", out, flag)
        d.session_closes(2, pred=lambda r: r.get("tls") == "true")

    def test_tls11_is_refused(self):
        d = self.start()
        r = s_client(d.port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
        self.assertNotEqual(r.returncode, 0, out)
        self.assertNotIn("221 2.0.0 Bye", out)
        recs = d.wait_records("tls_failed", 1)
        self.assertEqual(len(recs), 1, d.log_text()[-2000:])
        self.assertEqual(recs[0]["error"], "unsupported protocol")
        self.assertEqual(d.session_closes(1)[0]["end"], "tls_failed")

    def test_smtplib_starttls(self):
        d = self.start()
        with smtplib.SMTP("127.0.0.1", d.port, local_hostname="client.example", timeout=10 * SLOW) as s:
            s.ehlo()
            self.assertTrue(s.has_extn("starttls"))
            code, text = s.starttls(context=client_context())
            self.assertEqual((code, text), (220, b"2.0.0 Ready to start TLS"))
            self.assertEqual(s.sock.version() in ("TLSv1.2", "TLSv1.3"), True)
            s.ehlo()
            self.assertFalse(s.has_extn("starttls"))  # not offered inside TLS
            self.assertTrue(s.has_extn("chunking"))
            refused = s.sendmail("a@client.example", ["x@mx.example.test"], b"Subject: t\r\n\r\nbody\r\n")
            self.assertEqual(refused, {})
        rec = d.session_closes(1)[0]
        self.assertEqual((rec["tls"], rec["messages"], rec["helo"]), ("true", "1", "client.example"))

    def test_smtpsend_starttls(self):
        smtpsend = os.path.join(os.path.dirname(BIN), "smtpsend")
        d = self.start("--max-conns-per-ip", "0")
        r = subprocess.run([smtpsend, "--starttls", "-s", "4", "-m", "5", "-n", "60", "--no-progress", "-p",
                            str(d.port), "127.0.0.1"], capture_output=True, text=True, timeout=60 * SLOW)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Sent 60 messages", r.stdout)
        m = re.search(r"^0 messages failed, (\d+) connections", r.stdout, re.M)
        self.assertIsNotNone(m, r.stdout)
        conns = int(m.group(1))
        self.assertGreaterEqual(conns, 12)  # at most 5 per connection (-m 5)
        recs = d.session_closes(conns)
        self.assertEqual(len(recs), conns)
        self.assertTrue(all(x.get("tls") == "true" for x in recs), recs)
        self.assertEqual(sum(int(x["messages"]) for x in recs), 60)
        # Against a server without STARTTLS every connection fails.
        plain = Daemon.start(self, "--tls", "no")
        r = subprocess.run([smtpsend, "--starttls", "-n", "2", "--no-progress", "-p", str(plain.port), "127.0.0.1"],
                           capture_output=True, text=True, timeout=60 * SLOW)
        self.assertNotIn("Sent 2 messages", r.stdout, r.stdout + r.stderr)

    # ---- certificates

    def test_self_signed_certificate_names_the_host_and_is_reused(self):
        state = os.path.join(self.tmp, "state")
        d = self.start("--state-dir", state, hostname="mx.selfsigned.test")
        cert, key = os.path.join(state, "tls", "cert.pem"), os.path.join(state, "tls", "key.pem")
        self.assertEqual(subject_of(cert), "subject=CN = mx.selfsigned.test")
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        self.assertEqual(len(d.records("tls_cert_created")), 1)
        # The client sees that certificate.
        r = s_client(d.port, "-showcerts")
        self.assertIn("subject=CN = mx.selfsigned.test", r.stdout.decode("utf-8", "replace"))
        with open(cert, "rb") as f:
            first = f.read()
        d.close(self)
        d2 = self.start("--state-dir", state, hostname="mx.selfsigned.test")
        self.assertEqual(len(d2.records("tls_cert_reused")), 1, d2.log_text())
        with open(cert, "rb") as f:
            self.assertEqual(f.read(), first)
        d2.close(self)
        # Another hostname: a new certificate that names it.
        d3 = self.start("--state-dir", state, hostname="mx.renamed.test")
        self.assertEqual(len(d3.records("tls_cert_created")), 1, d3.log_text())
        self.assertEqual(subject_of(cert), "subject=CN = mx.renamed.test")

    def test_given_certificate_and_key(self):
        cert, key = make_cert(self.tmp, "given.example.test")
        d = Daemon.start(self, "--tls-cert", cert, "--tls-key", key)
        r = s_client(d.port, "-showcerts")
        out = r.stdout.decode("utf-8", "replace")
        self.assertIn("subject=CN = given.example.test", out)
        self.assertIn("221 2.0.0 Bye", out)
        self.assertFalse(os.path.exists(os.path.join(d.tmpdir, "var", "tls")))  # nothing self-signed made

    def run_bad(self, *args):
        r = subprocess.run([BIN, "--sink", "127.0.0.1:0", "--db", "none", "--state-dir", os.path.join(self.tmp, "s"),
                            *args], capture_output=True, text=True, timeout=20 * SLOW)
        return r.returncode, r.stderr

    def test_broken_certificate_or_key_fails_at_start(self):
        cert, key = make_cert(self.tmp, "good.example.test")
        junk = os.path.join(self.tmp, "junk.pem")
        with open(junk, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
        other_cert, other_key = make_cert(self.tmp, "other.example.test")
        cases = [
            (("--tls-cert", junk, "--tls-key", key), "tls_cert: " + junk + ": not a usable PEM certificate"),
            (("--tls-cert", cert, "--tls-key", junk), "tls_key: " + junk + ": not a usable PEM private key"),
            (("--tls-cert", cert, "--tls-key", other_key), "tls_key: " + other_key + ": does not match"),
            (("--tls-cert", os.path.join(self.tmp, "missing.pem"), "--tls-key", key),
             "tls_cert: " + os.path.join(self.tmp, "missing.pem") + ": cannot read"),
            (("--tls-cert", cert), "tls_cert is set but tls_key is not"),
            (("--tls-key", key), "tls_key is set but tls_cert is not"),
        ]
        for args, message in cases:
            rc, err = self.run_bad(*args)
            self.assertEqual(rc, 2, (args, err))
            self.assertIn(message, err, args)
        del other_cert

    def test_broken_certificate_on_reload_keeps_the_old(self):
        cert, key = make_cert(self.tmp, "reload.example.test")
        conf = os.path.join(self.tmp, "spamsink.toml")
        with open(conf, "w") as f:
            f.write('tls_cert = "%s"\ntls_key = "%s"\n' % (cert, key))
        d = self.start(config=conf)
        with open(cert, "w") as f:
            f.write("garbage\n")
        d.signal(signal.SIGHUP)
        recs = d.wait_records("reload_failed", 1)
        self.assertEqual(len(recs), 1, d.log_text())
        self.assertIn("tls_cert: " + cert, recs[0]["error"])
        out = s_client(d.port, "-showcerts").stdout.decode("utf-8", "replace")
        self.assertIn("subject=CN = reload.example.test", out)
        self.assertIn("221 2.0.0 Bye", out)

    # ---- bad input

    def test_garbage_after_220_ends_only_that_session(self):
        d = self.start()
        with SmtpConn(d.addr) as c:
            c.expect(b"EHLO client.example", b"250-mx.example.test\r\n")
            self.assertEqual(c.cmd(b"STARTTLS"), READY)
            c.send(b"\x16\x03\x01\x00\x05hello" + bytes(range(256)) * 4)  # a record header, then junk
            c.read_to_eof()
            port = c.local_port
        self.assertEqual(d.session_by_port(port)["end"], "tls_failed")
        self.assertEqual(len(d.records("tls_failed")), 1)
        with SmtpConn(d.addr) as c:  # the server goes on, plain and TLS
            self.assertRegex(c.message(b"a@client.example", [b"x@mx.example.test"], b"hi\r\n"),
                             rb"^250 2\.0\.0 Ok: queued as")
        self.assertIn("221 2.0.0 Bye", s_client(d.port).stdout.decode("utf-8", "replace"))

    def test_client_that_closes_during_the_handshake(self):
        d = self.start()
        for _ in range(3):
            with SmtpConn(d.addr) as c:
                self.assertEqual(c.cmd(b"STARTTLS"), READY)
                port = c.local_port
            self.assertEqual(d.session_by_port(port)["end"], "tls_failed")
        self.assertIn("221 2.0.0 Bye", s_client(d.port).stdout.decode("utf-8", "replace"))

    def test_handshake_timeout_is_the_command_timeout(self):
        d = self.start("--command-timeout", "1s")
        with SmtpConn(d.addr) as c:
            self.assertEqual(c.cmd(b"STARTTLS"), READY)
            t0 = time.monotonic()
            self.assertEqual(c.read_to_eof(timeout=10 * SLOW), b"")  # no plaintext 421 inside a handshake
            self.assertLess(time.monotonic() - t0, 5 * SLOW)
            port = c.local_port
        self.assertEqual(d.session_by_port(port)["end"], "tls_failed")
        self.assertEqual(d.records("tls_failed")[0]["error"], "handshake timeout")

    def test_starttls_twice_and_with_arguments(self):
        d = self.start()
        with SmtpConn(d.addr) as c:
            self.assertEqual(c.cmd(b"STARTTLS now"), b"501 5.5.4 Syntax: STARTTLS\r\n")
            ehlo = c.cmd(b"EHLO client.example")
            self.assertIn(b"250-STARTTLS\r\n", ehlo)
            self.assertEqual(c.cmd(b"STARTTLS"), READY)
            TlsConn(c).starttls()
            ehlo = c.cmd(b"EHLO client.example")
            self.assertNotIn(b"STARTTLS", ehlo)
            self.assertTrue(ehlo.endswith(b"250 CHUNKING\r\n"), ehlo)
            self.assertEqual(c.cmd(b"STARTTLS"), b"554 5.5.1 Error: TLS already active\r\n")
            # The session goes on inside TLS.
            self.assertRegex(c.message(b"a@client.example", [b"x@mx.example.test"], b"hi\r\n", ehlo=None),
                             rb"^250 2\.0\.0 Ok: queued as")
            self.assertEqual(c.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
            port = c.local_port
        rec = d.session_by_port(port)
        self.assertEqual((rec["tls"], rec["errors"], rec["messages"]), ("true", "2", "1"))

    def test_plaintext_after_starttls_is_not_executed(self):
        d = self.start()
        with SmtpConn(d.addr) as c:
            c.expect(b"EHLO client.example", b"250-mx.example.test\r\n")
            # One write: STARTTLS and commands an attacker injected behind it.
            c.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<evil@attacker.example>\r\n")
            self.assertEqual(c.reply(), READY)
            self.assertTrue(c.nothing_within(0.5 * SLOW))  # no 250 for RSET or MAIL
            TlsConn(c).starttls()
            # Had the injected MAIL run, this would be 503 nested MAIL.
            self.assertEqual(c.cmd(b"MAIL FROM:<a@client.example>"), b"250 2.1.0 Ok\r\n")
            self.assertEqual(c.cmd(b"RSET"), b"250 2.0.0 Ok\r\n")
            self.assertEqual(c.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n")
            port = c.local_port
        rec = d.session_by_port(port)
        self.assertEqual((rec["tls"], rec["from"], rec["errors"]), ("true", "a@client.example", "0"))

    def test_relay_listener_offers_starttls(self):
        d = self.start("--relay", "127.0.0.1:0", sinks=(), listeners=1)
        with SmtpConn(d.addr) as c:
            self.assertIn(b"250-STARTTLS\r\n", c.cmd(b"EHLO client.example"))
            self.assertEqual(c.cmd(b"STARTTLS"), READY)
            self.assertIn(TlsConn(c).starttls(), ("TLSv1.2", "TLSv1.3"))
            self.assertNotIn(b"STARTTLS", c.cmd(b"EHLO client.example"))
            self.assertRegex(c.message(b"a@client.example", [b"x@elsewhere.example"], b"hi\r\n", ehlo=None),
                             rb"^250 2\.0\.0 Ok: queued as")
            port = c.local_port
        rec = d.session_by_port(port)
        self.assertEqual((rec["mode"], rec["tls"], rec["relay_attempts"]), ("relay", "true", "1"))

    def test_tls_no_and_tarpit_offer_no_starttls(self):
        d = Daemon.start(self, "--tls", "no")
        with SmtpConn(d.addr) as c:
            self.assertNotIn(b"STARTTLS", c.cmd(b"EHLO client.example"))
            self.assertEqual(c.cmd(b"STARTTLS"), b"502 5.5.1 Error: command not implemented\r\n")
        t = self.start("--tarpit", "127.0.0.1:0", "--greet-delay", "0", "--tarpit-interval", "10ms",
                       "--tarpit-drip-bytes", "4096", "--tarpit-delay-helo", "0s", sinks=(), listeners=1)
        with SmtpConn(t.addr) as c:
            self.assertNotIn(b"STARTTLS", c.cmd(b"EHLO client.example"))


if __name__ == "__main__":
    unittest.main()
