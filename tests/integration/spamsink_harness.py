"""spamsink_harness: run the real spamsink binary and talk to it.

Covers what every integration test needs and nothing test-specific:
  - Daemon: starts $SPAMSINK_BIN on ephemeral ports with stderr in a file,
    parses the bound ports from `event=listening`, reads and parses the log
    (key=value or JSON), asks for totals with SIGUSR1, reads RSS/CPU from
    /proc, and always stops the process at test cleanup (SIGTERM, then
    SIGKILL), failing the test if it did not exit 0 or if a sanitizer spoke.
  - SmtpConn: a raw-socket SMTP client for byte-exact dialogues.
  - RssWatch: samples the daemon's VmRSS while a case runs.
Every socket, wait and subprocess here has a timeout. Traffic goes only to
127.0.0.0/8 and [::1].

Environment: SPAMSINK_BIN (path of the binary; ctest sets it) and
SPAMSINK_SANITIZED=1 for ASan/UBSan builds (timeouts are stretched).
"""

import json
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import time

BIN = os.environ.get("SPAMSINK_BIN", "")
SANITIZED = os.environ.get("SPAMSINK_SANITIZED", "0").strip().upper() in ("1", "ON", "TRUE", "YES")
HOSTNAME = "mx.example.test"
# Debug + ASan/UBSan runs several times slower: waits (not the bounds the
# tests assert about the daemon's own timers) are stretched by this.
SLOW = 4.0 if SANITIZED else 1.0

GREETING = b"220 mx.example.test ESMTP Postfix (Debian/GNU)\r\n"
TIMEOUT_421 = b"421 4.4.2 mx.example.test Error: timeout exceeded\r\n"
SHUTDOWN_421 = b"421 4.3.2 mx.example.test Service shutting down, closing transmission channel\r\n"
TOO_MANY_ERRORS_421 = b"421 4.7.0 mx.example.test Error: too many errors\r\n"
FORBIDDEN_221 = b"221 2.7.0 Error: I can break rules, too. Goodbye.\r\n"
QUEUED_RE = re.compile(rb"^250 2\.0\.0 Ok: queued as [0-9A-F]{11}\r\n$")

TOTAL_KEYS = ("sessions", "messages", "recipients", "bytes", "refused_messages", "refused_connections", "early_talkers",
              "open")

_SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")


def require_binary():
    if not BIN or not os.access(BIN, os.X_OK):
        raise RuntimeError("SPAMSINK_BIN must name the spamsink binary (ctest sets it); got %r" % BIN)
    return BIN


def tmpfile(test, name, text):
    """Writes `text` to NAME in a fresh temp dir that `test` removes at cleanup; returns the path."""
    d = tempfile.mkdtemp(prefix="spamsink-file-")
    test.addCleanup(shutil.rmtree, d, True)
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


# ---------------------------------------------------------------- log lines

_KV_TOKEN = re.compile(r'([a-z_0-9]+)=("(?:[^"\\]|\\.)*"|[^ "]*)')


def parse_kv(line):
    """Parses one key=value line strictly: the tokens must cover the whole
    line, separated by single spaces, or ValueError. Quoted values are
    returned still escaped (see unescape_kv)."""
    out = {}
    pos = 0
    while pos < len(line):
        m = _KV_TOKEN.match(line, pos)
        if not m:
            raise ValueError("unparsable log line at %d: %r" % (pos, line))
        key, value = m.group(1), m.group(2)
        if key in out:
            raise ValueError("duplicate key %r in %r" % (key, line))
        if value.startswith('"'):
            value = value[1:-1]
        out[key] = value
        pos = m.end()
        if pos < len(line):
            if line[pos] != " ":
                raise ValueError("junk after %s= at %d: %r" % (key, pos, line))
            pos += 1
    return out


def unescape_kv(value):
    """The peer bytes behind an escaped key=value string (\\", \\\\, \\xNN)."""
    out = bytearray()
    i = 0
    while i < len(value):
        c = value[i]
        if c != "\\":
            out += c.encode("ascii")
            i += 1
        elif value[i + 1] == "x":
            out.append(int(value[i + 2:i + 4], 16))
            i += 4
        else:
            out += value[i + 1].encode("ascii")
            i += 2
    return bytes(out)


# ------------------------------------------------------------------ daemon

class Daemon:
    """One spamsink process. Use Daemon.start(test, ...): it registers the
    cleanup that stops the process and checks how it ended."""

    def __init__(self, args, json_log=False, listeners=1):
        require_binary()
        self.json_log = json_log
        self.tmpdir = tempfile.mkdtemp(prefix="spamsink-int-")
        args = list(args)
        # The store's default database is var/spamsink.db under the working
        # directory: keep every test's state in its own temp dir instead.
        if not any(a in ("--state-dir", "--db") for a in args):
            args += ["--state-dir", os.path.join(self.tmpdir, "var")]
            # A daemon started as root with --user creates var/ for that
            # user, who must be able to reach it.
            os.chmod(self.tmpdir, 0o711)
        # The API's default port (8025) may be taken by another run: use any.
        if not any(a == "--api" or a.startswith("--api=") for a in args):
            args += ["--api", "127.0.0.1:0"]
        # STARTTLS is on by default; the dialogues the tests pin (and the
        # persona recordings, made without TLS) have no STARTTLS in EHLO.
        # Tests of TLS say so with --tls/--tls-cert (tests/integration/test_tls.py).
        if not any(a in ("--tls", "--tls-cert", "--tls-key") for a in args):
            args += ["--tls", "no"]
        self.args = [BIN] + args
        self.log_path = os.path.join(self.tmpdir, "stderr.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                                     start_new_session=True)
        self.returncode = None
        self.addresses = []
        self.api = None  # (host, port) of the HTTP API, from event=started; None with --api none
        try:
            self._wait_started(listeners)
        except Exception:
            self.kill()
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            raise

    @classmethod
    def start(cls, test, *extra, sinks=("127.0.0.1:0",), threads=2, grace="2s", json_log=False,
              hostname=HOSTNAME, config=None, listeners=None):
        args = []
        for s in sinks:
            args += ["--sink", s]
        if config is not None:
            args += ["--config", config]
        args += ["--threads", str(threads), "--hostname", hostname, "--shutdown-grace", grace]
        if json_log:
            args += ["--log-format", "json"]
        args += list(extra)
        d = cls(args, json_log=json_log, listeners=len(sinks) if listeners is None else listeners)
        test.addCleanup(d.close, test)
        return d

    # -- start / stop

    def _wait_started(self, listeners):
        deadline = time.monotonic() + 10 * SLOW
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("spamsink exited %s at start:\n%s" % (self.proc.returncode, self.log_text()))
            recs = self.records()
            if any(r.get("event") == "started" for r in recs):
                addrs = [r["address"] for r in recs if r.get("event") == "listening"]
                if len(addrs) != listeners:
                    raise RuntimeError("expected %d listeners, log says %r" % (listeners, addrs))
                for a in addrs:
                    host, _, port = a.rpartition(":")
                    self.addresses.append((host.strip("[]"), int(port)))
                started = [r for r in recs if r.get("event") == "started"][0]
                if started.get("api", "none") != "none":
                    host, _, port = started["api"].rpartition(":")
                    self.api = (host.strip("[]"), int(port))
                return
            time.sleep(0.02)
        raise RuntimeError("spamsink did not log event=started in time:\n" + self.log_text())

    @property
    def pid(self):
        return self.proc.pid

    @property
    def port(self):
        return self.addresses[0][1]

    @property
    def addr(self):
        return self.addresses[0]

    def running(self):
        return self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """Waits for the process to end; returns its exit code (None on timeout)."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()

    def sanitizer_reports(self):
        text = self.log_text()
        return [line for line in text.splitlines() if any(m in line for m in _SANITIZER_MARKERS)]

    def close(self, test=None):
        """Cleanup: SIGTERM, wait, then check exit 0 and a silent sanitizer."""
        problems = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait_exit(15 * SLOW) is None:
                problems.append("spamsink ignored SIGTERM for %.0f s; killed" % (15 * SLOW))
                self.kill()
        rc = self.proc.wait(timeout=10)
        self._log.close()
        if rc not in (0, None) and not problems:
            problems.append("spamsink exited %s (expected 0)" % rc)
        reports = self.sanitizer_reports()
        if reports:
            problems.append("sanitizer reports:\n" + "\n".join(reports[:20]))
        tail = "\n".join(self.log_text().splitlines()[-30:])
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        if problems and test is not None:
            test.fail("; ".join(problems) + "\n--- log tail ---\n" + tail)

    # -- log

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_lines(self):
        # The text after the last newline may be a line still being written.
        return [l for l in self.log_text().split("\n")[:-1] if l]

    def parse(self, line):
        if self.json_log:
            return json.loads(line)
        return parse_kv(line)

    def records(self, event=None):
        out = []
        for line in self.log_lines():
            if not line.startswith("ts=") and not line.startswith("{"):
                continue  # e.g. a sanitizer report
            r = self.parse(line)
            if event is None or r.get("event") == event:
                out.append(r)
        return out

    def wait_records(self, event, count=1, timeout=None, pred=None):
        """Waits until at least `count` records of `event` (matching `pred`)
        were logged; returns them all."""
        deadline = time.monotonic() + (timeout if timeout is not None else 10 * SLOW)
        while True:
            recs = [r for r in self.records(event) if pred is None or pred(r)]
            if len(recs) >= count or time.monotonic() > deadline:
                return recs
            time.sleep(0.05)

    def session_closes(self, count, timeout=None, pred=None):
        recs = self.wait_records("session_close", count, timeout, pred)
        if len(recs) < count:
            raise AssertionError("expected %d session_close lines, got %d:\n%s" % (count, len(recs), self.log_text()[-3000:]))
        return recs

    def session_by_port(self, client_port, timeout=None):
        recs = self.session_closes(1, timeout, pred=lambda r: int(r["port"]) == client_port)
        if len(recs) != 1:
            raise AssertionError("%d session_close lines for client port %d" % (len(recs), client_port))
        return recs[0]

    # -- totals

    def totals(self, timeout=None):
        """SIGUSR1, then the new event=totals line as a dict of ints."""
        before = len(self.records("totals"))
        self.signal(signal.SIGUSR1)
        recs = self.wait_records("totals", before + 1, timeout)
        if len(recs) <= before:
            raise AssertionError("no event=totals line after SIGUSR1")
        return {k: int(recs[-1][k]) for k in TOTAL_KEYS}

    def wait_totals(self, test, timeout=None, **expected):
        """Polls totals until each counter in `expected` reached its value
        (counters only grow, `open` is waited for exactly), then asserts that
        every one of them is exactly as expected."""
        deadline = time.monotonic() + (timeout if timeout is not None else 10 * SLOW)
        while True:
            t = self.totals()
            reached = all((t[k] == v) if k == "open" else (t[k] >= v) for k, v in expected.items())
            if reached or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        test.assertEqual({k: t[k] for k in expected}, expected, "totals")
        return t

    # -- /proc

    def proc_status(self, field):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return line.split(":", 1)[1].split()
        raise KeyError(field)

    def rss_kb(self):
        return int(self.proc_status("VmRSS")[0])

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # fields[0] is state (field 3); utime and stime are fields 14 and 15.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------- RSS watch

class RssWatch:
    """Samples VmRSS every 20 ms in a thread while the `with` body runs."""

    def __init__(self, daemon):
        self.daemon = daemon
        self.start_kb = daemon.rss_kb()
        self.peak_kb = self.start_kb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.02):
            try:
                self.peak_kb = max(self.peak_kb, self.daemon.rss_kb())
            except (OSError, KeyError, ValueError):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self.peak_kb = max(self.peak_kb, self.daemon.rss_kb())
        return False


# ------------------------------------------------------------- SMTP client

class SmtpConn:
    """A raw SMTP client socket: exact bytes out, exact replies in."""

    def __init__(self, addr, timeout=None, read_greeting=True, source=None):
        host, port = addr
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout if timeout is not None else 10 * SLOW)
        try:
            if source is not None:
                self.sock.bind((source, 0))
            self.sock.connect((host, port))
        except OSError as e:
            self.sock.close()
            raise type(e)(e.errno, "%s (connecting to %s port %d at %.3f)" % (e.strerror, host, port, time.time()))
        self.local_port = self.sock.getsockname()[1]
        self.buf = b""
        self.greeting = self.reply() if read_greeting else None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by server; unread: %r" % self.buf)
        self.buf += chunk

    def line(self):
        # Bounded as a whole, not only per recv: a trickling peer cannot
        # stretch it.
        deadline = time.monotonic() + 30 * SLOW
        while b"\n" not in self.buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no whole reply line within %.0f s; got %r" % (30 * SLOW, self.buf[:200]))
            self._fill()
        i = self.buf.index(b"\n") + 1
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def reply(self):
        """One whole (possibly multi-line) reply, raw bytes."""
        out = b""
        while True:
            l = self.line()
            out += l
            if len(l) < 4 or l[3:4] != b"-":
                return out

    def cmd(self, line):
        self.send(line + b"\r\n")
        return self.reply()

    def expect(self, line, prefix):
        r = self.cmd(line)
        if not r.startswith(prefix):
            raise AssertionError("%r -> %r, expected %r" % (line, r, prefix))
        return r

    def read_to_eof(self, timeout=None):
        """Everything until the server closes (EOF or reset)."""
        timeout = timeout if timeout is not None else 10 * SLOW
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        out, self.buf = self.buf, b""
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("server did not close within %.0f s; got %r" % (timeout, out[-200:]))
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return out
            if not chunk:
                return out
            out += chunk

    def nothing_within(self, seconds):
        """True if no byte and no EOF arrives within `seconds`."""
        if self.buf:
            return False
        self.sock.settimeout(seconds)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(10 * SLOW)
        self.buf += chunk
        return False

    def message(self, mail_from, rcpts, body, ehlo=b"client.example"):
        """EHLO (if ehlo), MAIL, RCPTs, DATA, the CRLF-terminated body
        (dot-stuffed here), '.'; returns the final reply."""
        if ehlo:
            self.expect(b"EHLO " + ehlo, b"250-mx.example.test\r\n")
        self.expect(b"MAIL FROM:<" + mail_from + b">", b"250 2.1.0")
        for r in rcpts:
            self.expect(b"RCPT TO:<" + r + b">", b"250 2.1.5")
        self.expect(b"DATA", b"354 ")
        self.send(dot_stuff(body) + b".\r\n")
        return self.reply()


def dot_stuff(body):
    """RFC 5321 4.5.2 transparency: a line starting with '.' gets another."""
    return b"\r\n".join(b"." + l if l.startswith(b".") else l for l in body.split(b"\r\n"))


def smtplib_send(addr, mail_from, rcpts, msg, mail_options=(), helo="client.example"):
    """One smtplib session that sends one message and QUITs."""
    host, port = addr
    with smtplib.SMTP(host, port, local_hostname=helo, timeout=10 * SLOW) as s:
        refused = s.sendmail(mail_from, rcpts, msg, mail_options=list(mail_options))
        if refused:
            raise AssertionError("refused recipients: %r" % refused)


def normal_message(n=0):
    """A small message, CRLF-terminated, with a dot-stuffed line; its size
    on the server side (after unstuffing) is len() of the result."""
    return (b"From: a@client.example\r\nTo: b@sink.example\r\nSubject: check %d\r\n\r\n"
            b"hello\r\n.line starting with a dot\r\nbye\r\n" % n)
