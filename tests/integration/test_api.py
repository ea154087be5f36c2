"""test_api: the HTTP API of the real binary (issue 7, docs/api.md).

The daemon runs with a database in its temp dir and the API on
127.0.0.1:0 (the harness reads the port from `event=started api=...`).
Known loads (smtplib over 127.0.0.1 and ::1, smtp-source) go in; the API's
numbers must equal them. Also: /api/v1/hosts/{ip} for 127.0.0.1 and ::1,
peer text escaped (a <script> HELO), 400s that name the
parameter, the token rules (refusal off loopback without a token file, 401
without the token), `promtool check metrics` on the real /metrics, `nft -c
-f` on the real nft export, the never-list, and a clean SIGTERM stop.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from spamsink_harness import BIN, SLOW, Daemon, normal_message, require_binary, smtplib_send

SMTP_SOURCE = "/usr/sbin/smtp-source"
TOKEN = "s3cr3t-token-0123456789abcdef"


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def http_get(api, path, token=None, timeout=10):
    """(status, headers, body bytes) of GET http://api/path."""
    host, port = api
    req = urllib.request.Request("http://%s:%d%s" % (host, port, path))
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout * SLOW) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def get_json(test, api, path, status=200, token=None):
    code, headers, body = http_get(api, path, token)
    test.assertEqual(code, status, "%s: %r" % (path, body[:500]))
    test.assertEqual(headers.get("Content-Type"), "application/json", path)
    return json.loads(body.decode("utf-8"))  # strict: the API promises valid UTF-8


def wait_for(test, fn, what, timeout=10):
    """Polls fn() until it returns a true value (the store commits every
    250 ms); bounded in time."""
    deadline = time.monotonic() + timeout * SLOW
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    test.fail("timed out waiting for %s (last: %r)" % (what, last))


class ApiTest(unittest.TestCase):
    def start(self, *extra, sinks=("127.0.0.1:0",), listeners=None):
        self.tmp = tempfile.mkdtemp(prefix="spamsink-api-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        d = Daemon.start(self, "--db", os.path.join(self.tmp, "spamsink.db"), *extra, sinks=sinks,
                         listeners=listeners)
        self.assertIsNotNone(d.api, "event=started names the API address")
        return d

    def test_numbers_equal_the_load(self):
        sinks = ("127.0.0.1:0", "[::1]:0") if has_ipv6_loopback() else ("127.0.0.1:0",)
        d = self.start(sinks=sinks)
        v4 = d.addresses[0]
        # 4 sessions over IPv4, each 1 message to 3 recipients; 2 over IPv6 (if any).
        msg = normal_message(1)
        for i in range(4):
            smtplib_send(v4, "a%d@client.example" % i, ["r1@sink.example", "r2@sink.example", "r3@sink.example"], msg)
        v6_sessions = 0
        if len(d.addresses) > 1:
            for i in range(2):
                smtplib_send(d.addresses[1], "b%d@client.example" % i, ["r@sink.example"], msg)
            v6_sessions = 2
        messages = 4 + v6_sessions
        recipients = 12 + v6_sessions
        stats = wait_for(self, lambda: (lambda s: s if s["messages"] == messages else None)(
            get_json(self, d.api, "/api/v1/stats")), "stats to count %d messages" % messages)
        self.assertEqual(stats["recipients"], recipients)
        self.assertEqual(stats["bytes_discarded"], messages * len(msg))
        self.assertEqual(stats["sessions_total"], 4 + v6_sessions)
        self.assertEqual(stats["unique_hosts"], 2 if v6_sessions else 1)
        self.assertEqual(stats["per_mode"]["sink"]["messages"], messages)
        self.assertEqual(stats["per_mode"]["tarpit"]["sessions"], 0)
        self.assertEqual(stats["sessions_open"], 0)
        self.assertRegex(stats["since"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(len(stats["listeners"]), len(sinks))

        h4 = get_json(self, d.api, "/api/v1/hosts/127.0.0.1")
        self.assertEqual((h4["ip"], h4["sessions"], h4["messages"], h4["recipients"]), ("127.0.0.1", 4, 4, 12))
        self.assertEqual(h4["last_helo"], "client.example")
        if v6_sessions:
            h6 = get_json(self, d.api, "/api/v1/hosts/::1")
            self.assertEqual((h6["ip"], h6["sessions"], h6["messages"]), ("::1", 2, 2))
            s6 = get_json(self, d.api, "/api/v1/sessions?ip=::1")
            self.assertEqual(len(s6["sessions"]), 2)
            self.assertTrue(all(s["ip"] == "::1" for s in s6["sessions"]))
        self.assertEqual(get_json(self, d.api, "/api/v1/hosts/192.0.2.1", 404)["error"], "not_found")
        hosts = get_json(self, d.api, "/api/v1/hosts?order=sessions&limit=1")
        self.assertEqual(hosts["hosts"][0]["ip"], "127.0.0.1")
        if v6_sessions:
            self.assertIsNotNone(hosts["next_cursor"])
            page2 = get_json(self, d.api, "/api/v1/hosts?order=sessions&limit=1&cursor=" + hosts["next_cursor"])
            self.assertEqual(page2["hosts"][0]["ip"], "::1")
        sessions = get_json(self, d.api, "/api/v1/sessions?mode=sink&reason=quit&limit=3")
        self.assertEqual(len(sessions["sessions"]), 3)
        self.assertEqual(sessions["sessions"][0]["recipient_count"] in (1, 3), True)

    @unittest.skipUnless(os.access(SMTP_SOURCE, os.X_OK), "smtp-source (Debian postfix) not installed")
    def test_smtp_source_load(self):
        d = self.start()
        n = 60
        p = subprocess.run([SMTP_SOURCE, "-s", "5", "-m", str(n), "-r", "2", "-l", "512",
                            "127.0.0.1:%d" % d.port], capture_output=True, timeout=60 * SLOW)
        self.assertEqual(p.returncode, 0, p.stderr)
        stats = wait_for(self, lambda: (lambda s: s if s["messages"] == n else None)(
            get_json(self, d.api, "/api/v1/stats")), "%d messages" % n)
        self.assertEqual(stats["recipients"], 2 * n)
        host = get_json(self, d.api, "/api/v1/hosts/127.0.0.1")
        self.assertEqual(host["messages"], n)
        self.assertEqual(host["sessions"], stats["sessions_total"])
        # The live counters in /metrics agree with the store's totals.
        code, _, body = http_get(d.api, "/metrics")
        self.assertEqual(code, 200)
        lines = [l for l in body.decode().splitlines() if l.startswith("spamsink_messages_total{")]
        self.assertEqual(sum(float(l.rsplit(" ", 1)[1]) for l in lines), n)

    def test_sessions_open_is_live(self):
        d = self.start()
        with socket.create_connection(d.addr, timeout=5 * SLOW) as s:
            self.assertTrue(s.recv(100).startswith(b"220 "))
            stats = get_json(self, d.api, "/api/v1/stats")
            self.assertEqual(stats["sessions_open"], 1)
            self.assertEqual(stats["per_mode"]["sink"]["sessions_open"], 1)
            self.assertEqual(stats["listeners"][0]["sessions_open"], 1)
            s.sendall(b"QUIT\r\n")
            s.recv(100)
        wait_for(self, lambda: get_json(self, d.api, "/api/v1/stats")["sessions_open"] == 0, "sessions_open 0")

    def test_peer_text_is_escaped(self):
        d = self.start()
        with socket.create_connection(d.addr, timeout=5 * SLOW) as s:
            f = s.makefile("rb")
            f.readline()
            # Invalid UTF-8 never gets this far (the session answers 500 bad
            # UTF-8, as Postfix does); unit_http covers its escaping.
            s.sendall("EHLO <script>alert(1)</script>\u00e9&\r\n".encode())
            for _ in range(50):  # one (multi-line) reply, whatever its code
                line = f.readline()
                if len(line) < 4 or line[3:4] == b" ":
                    break
            s.sendall(b"QUIT\r\n")
            f.read()
        def session():
            r = get_json(self, d.api, "/api/v1/sessions?limit=1")
            return r["sessions"][0] if r["sessions"] else None
        s = wait_for(self, session, "the session")
        self.assertEqual(s["helo"], "<script>alert(1)</script>\u00e9&")
        code, _, raw = http_get(d.api, "/api/v1/sessions?limit=1")
        self.assertNotIn(b"<script>", raw)
        self.assertIn(b"\\u003cscript\\u003e", raw)
        self.assertIn("\u00e9\\u0026".encode(), raw)  # valid UTF-8 stays as it is
        host = get_json(self, d.api, "/api/v1/hosts/127.0.0.1")
        self.assertEqual(host["last_helo"], s["helo"])

    def test_bad_parameters_are_400(self):
        d = self.start()
        for path, param in [("/api/v1/hosts?limit=0", "limit"), ("/api/v1/hosts?limit=1001", "limit"),
                            ("/api/v1/hosts?order=ip", "order"), ("/api/v1/hosts?since=yesterday", "since"),
                            ("/api/v1/hosts/example.com", "ip"), ("/api/v1/sessions?mode=smtp", "mode"),
                            ("/api/v1/sessions?reason=bored", "reason"), ("/api/v1/sessions?ip=1.2.3", "ip"),
                            ("/api/v1/blocklist?format=xml", "format"), ("/api/v1/blocklist?v6_prefix=0", "v6_prefix"),
                            ("/api/v1/blocklist?min_sessions=-1", "min_sessions"),
                            ("/api/v1/hosts?cursor=%3Cscript%3E", "cursor")]:
            j = get_json(self, d.api, path, 400)
            self.assertEqual((j["error"], j["parameter"]), ("bad_parameter", param), path)
        self.assertEqual(get_json(self, d.api, "/nothing/here", 404)["error"], "not_found")
        self.assertEqual(get_json(self, d.api, "/healthz")["status"], "ok")

    def test_promtool_accepts_metrics(self):
        if shutil.which("promtool") is None:
            self.skipTest("promtool (Debian prometheus) not installed")
        d = self.start("--tarpit", "127.0.0.1:0", "--greet-delay", "0", "--tarpit-interval", "10ms",
                       "--tarpit-max-hold", "1s", sinks=("127.0.0.1:0",), listeners=2)
        smtplib_send(d.addresses[0], "a@client.example", ["b@sink.example"], normal_message())
        with socket.create_connection(d.addresses[1], timeout=5 * SLOW) as s:
            s.settimeout(5 * SLOW)
            while s.recv(100):  # held, then a 421 and close after max-hold
                pass
        wait_for(self, lambda: get_json(self, d.api, "/api/v1/stats")["sessions_total"] == 2, "two sessions")
        code, headers, body = http_get(d.api, "/metrics")
        self.assertEqual(code, 200)
        self.assertTrue(headers.get("Content-Type").startswith("text/plain; version=0.0.4"))
        p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout + p.stderr, b"", "promtool lint findings")
        text = body.decode()
        self.assertIn('spamsink_messages_total{listener="127.0.0.1:0",mode="sink"} 1', text)
        self.assertIn('spamsink_sessions_total{listener="127.0.0.1:0",mode="tarpit"} 1', text)
        self.assertIn('spamsink_tarpit_hold_seconds_count{listener="127.0.0.1:0",mode="tarpit"} 1', text)
        self.assertIn("spamsink_store_queue_capacity ", text)
        self.assertNotIn("127.0.0.1\"", text.replace('listener="127.0.0.1:0"', ""), "no per-IP label")

    def test_blocklists_and_never_list(self):
        v6 = has_ipv6_loopback()
        sinks = ("127.0.0.1:0", "[::1]:0") if v6 else ("127.0.0.1:0",)
        d = self.start("--never-list", "127.0.0.2/32", sinks=sinks)
        smtplib_send(d.addresses[0], "a@x.example", ["b@sink.example"], normal_message())
        # 127.0.0.2 is never listed.
        with socket.create_connection(d.addresses[0], source_address=("127.0.0.2", 0), timeout=5 * SLOW) as s:
            s.recv(100)
            s.sendall(b"QUIT\r\n")
            s.recv(100)
        if v6:
            smtplib_send(d.addresses[1], "a@x.example", ["b@sink.example"], normal_message())
        hosts = 3 if v6 else 2
        wait_for(self, lambda: get_json(self, d.api, "/api/v1/stats")["unique_hosts"] == hosts, "hosts")
        code, headers, txt = http_get(d.api, "/api/v1/blocklist?format=txt")
        self.assertEqual(code, 200)
        self.assertEqual(headers.get("Transfer-Encoding"), "chunked")
        expect = ["::1", "127.0.0.1"] if v6 else ["127.0.0.1"]
        self.assertEqual(txt.decode().split(), expect)
        _, _, grouped = http_get(d.api, "/api/v1/blocklist?format=txt&v6_prefix=64")
        self.assertEqual(sorted(grouped.decode().split()), ["127.0.0.1"] + (["::/64"] if v6 else []))
        _, _, rbl = http_get(d.api, "/api/v1/blocklist?format=rbldnsd")
        self.assertEqual([l for l in rbl.decode().splitlines() if not l.startswith("#")],
                         [":127.0.0.2:Listed by spamsink", "127.0.0.1"])
        j = get_json(self, d.api, "/api/v1/blocklist?format=json")
        self.assertEqual([e["entry"] for e in j["entries"]], expect)
        _, _, csv = http_get(d.api, "/api/v1/blocklist?format=csv&min_sessions=2")
        self.assertEqual(csv.decode().splitlines(), ["entry,hosts,first_seen,last_seen,sessions,messages,tarpit_seconds"])
        # nft: a loadable file for both families; check it with nft -c.
        _, _, nft = http_get(d.api, "/api/v1/blocklist?format=nft")
        self.assertIn(b"add element inet spamsink blocklist_v4 { 127.0.0.1 }", nft)
        if v6:
            self.assertIn(b"add element inet spamsink blocklist_v6 { ::1 }", nft)
        self.assertNotIn(b"127.0.0.2", nft)
        nft_bin = shutil.which("nft") or ("/usr/sbin/nft" if os.access("/usr/sbin/nft", os.X_OK) else None)
        if nft_bin is None:
            print("test_api: nft -c skipped: nft is not installed")
            return
        _, _, nft64 = http_get(d.api, "/api/v1/blocklist?format=nft&v6_prefix=64")
        for name, text in (("blocklist.nft", nft), ("blocklist64.nft", nft64)):
            path = os.path.join(self.tmp, name)
            with open(path, "wb") as f:
                f.write(text)
            p = subprocess.run([nft_bin, "-c", "-f", path], capture_output=True, timeout=30)
            if p.returncode != 0 and b"Operation not permitted" in p.stderr:
                print("test_api: nft -c skipped: needs CAP_NET_ADMIN (%s)" % p.stderr.decode().strip())
                return
            self.assertEqual(p.returncode, 0, p.stderr.decode() + "\n" + text.decode())

    def test_token_required_with_token_file(self):
        tok = os.path.join(tempfile.mkdtemp(prefix="spamsink-tok-"), "token")
        self.addCleanup(shutil.rmtree, os.path.dirname(tok), True)
        with open(tok, "w") as f:
            f.write(TOKEN + "\n")
        d = self.start("--api-token-file", tok)
        code, headers, body = http_get(d.api, "/api/v1/stats")
        self.assertEqual(code, 401)
        self.assertEqual(json.loads(body)["error"], "unauthorized")
        self.assertEqual(http_get(d.api, "/metrics", token="wrong-token-0123456789")[0], 401)
        self.assertEqual(http_get(d.api, "/healthz")[0], 200)
        self.assertEqual(http_get(d.api, "/api/v1/stats", token=TOKEN)[0], 200)
        self.assertEqual(http_get(d.api, "/metrics", token=TOKEN)[0], 200)
        self.assertNotIn(TOKEN, d.log_text())

    def test_off_loopback_needs_a_token_file(self):
        require_binary()
        tmp = tempfile.mkdtemp(prefix="spamsink-api-")
        self.addCleanup(shutil.rmtree, tmp, True)
        for api in ("0.0.0.0:0", "[::]:0", "192.0.2.1:8025"):
            p = subprocess.run([BIN, "--sink", "127.0.0.1:0", "--db", "none", "--api", api], capture_output=True,
                               text=True, timeout=30 * SLOW)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("api_token_file", p.stderr)
        short = os.path.join(tmp, "short")
        with open(short, "w") as f:
            f.write("abc\n")
        p = subprocess.run([BIN, "--check-config", "--api", "0.0.0.0:0", "--api-token-file", short],
                           capture_output=True, text=True, timeout=30 * SLOW)
        self.assertEqual(p.returncode, 2)
        self.assertIn("api_token_file", p.stderr)
        # With a token file, an all-addresses bind starts; the test talks to it over 127.0.0.1 only.
        tok = os.path.join(tmp, "token")
        with open(tok, "w") as f:
            f.write(TOKEN)
        d = Daemon.start(self, "--db", os.path.join(tmp, "db"), "--api", "0.0.0.0:0", "--api-token-file", tok)
        api = ("127.0.0.1", d.api[1])
        self.assertEqual(http_get(api, "/api/v1/stats")[0], 401)
        self.assertEqual(http_get(api, "/api/v1/stats", token=TOKEN)[0], 200)

    def test_api_none_and_db_none(self):
        d = Daemon.start(self, "--api", "none", "--db", "none")
        self.assertIsNone(d.api)
        d2 = Daemon.start(self, "--db", "none")
        self.assertEqual(get_json(self, d2.api, "/api/v1/hosts", 503)["error"], "store_unavailable")
        smtplib_send(d2.addr, "a@x.example", ["b@sink.example"], normal_message())
        # --db none still counts in memory: /api/v1/stats answers.
        wait_for(self, lambda: get_json(self, d2.api, "/api/v1/stats")["messages"] == 1, "in-memory stats")

    def test_sigterm_stops_api(self):
        d = self.start()
        self.assertEqual(http_get(d.api, "/healthz")[0], 200)
        d.signal(15)
        self.assertEqual(d.wait_exit(15 * SLOW), 0)
        with self.assertRaises(OSError):
            socket.create_connection(d.api, timeout=2).close()


if __name__ == "__main__":
    unittest.main()
