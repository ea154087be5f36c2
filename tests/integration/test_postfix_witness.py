"""A real Postfix as the witness that the tarpit never loses real mail.

Covers: a private Postfix 3.7 instance (its own config, queue and log in a
temp dir, loopback only, no smtpd, no DNS) relays one message to spamsink:
  - tarpit as the only next hop, dialogue done within the hold: every
    attempt ends in the tarpit's 451 at the end of DATA, Postfix logs it as
    status=deferred, retries, keeps the message queued, bounces nothing;
  - tarpit as the only next hop, hold shorter than the dialogue: the 421
    at max-hold also leaves the message deferred and queued, not bounced;
  - tarpit first, a spamsink sink as smtp_fallback_relay (the backup MX of
    a real deployment): the message is delivered to the sink, exactly once;
  - the default drip (1 byte/s): Postfix's timers restart on every byte
    read, so it stays until max-hold; with smtp_per_record_deadline = yes
    its smtp_helo_timeout bounds the whole greeting line instead.
Each case starts its own Postfix (`postfix -c DIR start`) and stops it at
cleanup, also when the case fails; nothing outside the temp dir is changed.
Needs root and the Debian `postfix` package (postfix, sendmail, postqueue).
Traffic goes only to 127.0.0.1; every wait and subprocess has a timeout.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

_DEFAULT_BIN = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bin",
                                             "spamsink"))
os.environ.setdefault("SPAMSINK_BIN", _DEFAULT_BIN)

from spamsink_harness import SLOW, Daemon, HOSTNAME  # noqa: E402  (needs SPAMSINK_BIN set first)

POSTFIX = "/usr/sbin/postfix"
SENDMAIL = "/usr/sbin/sendmail"
POSTQUEUE = "/usr/sbin/postqueue"

SENDER = "witness@sender.example"
RCPT = "rcpt@remote.example"

REPLY_451 = "451 4.3.0 Error: queue file write error"
REPLY_421 = "421 4.4.2 %s Error: timeout exceeded" % HOSTNAME

# Debian 12's stock services without smtpd, chroot off (the queue is
# private), plus postlogd for maillog_file. `perrec` is smtp with the
# per-record deadline, for the drip case.
MASTER_CF = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
perrec    unix  -       -       n       -       -       smtp
  -o smtp_per_record_deadline=yes
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

# minimal_backoff_time must exceed queue_run_delay by more than a second:
# qmgr takes a deferred file whose time stamp is at most 1 s in the future,
# and at 1 s it retried while the smtp process still held the file's lock
# ("skipped, still being delivered"), which parks the message for 60 s.
MAIN_CF = """\
compatibility_level = 3.6
myhostname = witness.example.test
mydomain = example.test
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
alias_maps =
alias_database =
biff = no
local_transport = error:local delivery is disabled
default_transport = smtp
relay_transport = smtp
relayhost = [127.0.0.1]:{relay_port}
smtp_host_lookup = native
disable_dns_lookups = yes
smtp_tls_security_level = none
smtp_connect_timeout = 5s
queue_run_delay = 1s
minimal_backoff_time = 3s
maximal_backoff_time = 3s
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
"""

_DELIVERY = re.compile(r"postfix/(?P<agent>\w+)\[\d+\]: (?P<qid>[0-9A-F]+): to=<(?P<to>[^>]*)>, relay=(?P<relay>[^,]+), "
                       r"(?:conn_use=\d+, )?delay=(?P<delay>[0-9.]+), delays=(?P<delays>[0-9./]+), "
                       r"dsn=(?P<dsn>[0-9.]+), status=(?P<status>\w+) \((?P<reason>.*)\)$")


def _run(args, timeout=30, check=True, input=None):
    r = subprocess.run(args, input=input, capture_output=True, timeout=timeout * SLOW, check=False)
    if check and r.returncode != 0:
        raise RuntimeError("%s exited %d:\n%s%s" % (" ".join(args), r.returncode, r.stdout.decode(errors="replace"),
                                                    r.stderr.decode(errors="replace")))
    return r


class Postfix:
    """One private Postfix instance. Postfix.start(test, ...) registers the
    cleanup that stops it (and removes its directory) whatever happens."""

    def __init__(self, relay_port, main_extra="", prefix="spamsink-pf-"):
        if os.geteuid() != 0:
            raise RuntimeError("the Postfix witness needs root (postfix start); euid is %d" % os.geteuid())
        for tool in (POSTFIX, SENDMAIL, POSTQUEUE):
            if not os.access(tool, os.X_OK):
                raise RuntimeError("%s missing: the Postfix witness needs the postfix package" % tool)
        self.dir = tempfile.mkdtemp(prefix=prefix)
        # The daemons run as `postfix` and must traverse the path.
        os.chmod(self.dir, 0o755)
        self.etc = os.path.join(self.dir, "etc")
        self.maillog = os.path.join(self.dir, "maillog")
        self.master_pid = None
        os.mkdir(self.etc, 0o755)
        os.mkdir(os.path.join(self.dir, "queue"), 0o755)  # postfix creates its subdirectories
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(dir=self.dir, relay_port=relay_port) + main_extra)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF)

    @classmethod
    def start(cls, test, relay_port, main_extra=""):
        pf = cls(relay_port, main_extra)
        test.addCleanup(pf.stop)
        _run([POSTFIX, "-c", pf.etc, "check"])
        _run([POSTFIX, "-c", pf.etc, "start"])
        with open(os.path.join(pf.dir, "queue", "pid", "master.pid")) as f:
            pf.master_pid = int(f.read().split()[0])
        return pf

    def stop(self):
        try:
            if self.master_pid is None:
                # `postfix start` failed or timed out: a master may still be up.
                try:
                    with open(os.path.join(self.dir, "queue", "pid", "master.pid")) as f:
                        self.master_pid = int(f.read().split()[0])
                except (OSError, ValueError, IndexError):
                    pass
            if self.master_pid is not None:
                _run([POSTFIX, "-c", self.etc, "stop"], timeout=20, check=False)
                deadline = time.monotonic() + 10
                while os.path.exists("/proc/%d" % self.master_pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
                if os.path.exists("/proc/%d" % self.master_pid):
                    # The master we started ignored SIGTERM: its process group, by id.
                    os.killpg(self.master_pid, signal.SIGKILL)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- mail

    def submit(self, tag, rcpt=RCPT):
        """Queues one message with sendmail(1); returns its queue id."""
        msgid = "<%s.%d@sender.example>" % (tag, os.getpid())
        msg = ("From: <%s>\nTo: <%s>\nSubject: tarpit witness %s\nMessage-ID: %s\n\n"
               "A real message: it must be delivered or stay queued.\n" % (SENDER, rcpt, tag, msgid))
        _run([SENDMAIL, "-C", self.etc, "-f", SENDER, "--", rcpt], input=msg.encode())
        line = self.wait_log(lambda l: ("postfix/cleanup[" in l and ": message-id=%s" % msgid in l), 15 * SLOW)
        if line is None:
            raise AssertionError("cleanup never saw %s:\n%s" % (msgid, self.log_text()))
        return re.search(r": ([0-9A-F]+): message-id=", line).group(1)

    def queue(self):
        """postqueue -j: one dict per queued message."""
        out = _run([POSTQUEUE, "-c", self.etc, "-j"]).stdout.decode()
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    # -- log

    def log_text(self):
        try:
            with open(self.maillog, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_lines(self):
        return [l for l in self.log_text().split("\n")[:-1] if l]

    def wait_log(self, pred, timeout):
        deadline = time.monotonic() + timeout
        while True:
            for l in self.log_lines():
                if pred(l):
                    return l
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    def deliveries(self, qid):
        """The delivery agents' to=<...> lines for `qid`, parsed."""
        out = []
        for l in self.log_lines():
            m = _DELIVERY.search(l)
            if m and m.group("qid") == qid:
                out.append(m.groupdict())
        return out

    def wait_deliveries(self, qid, count, timeout):
        deadline = time.monotonic() + timeout
        while True:
            d = self.deliveries(qid)
            if len(d) >= count or time.monotonic() > deadline:
                return d
            time.sleep(0.05)


def listener_port(daemon, mode):
    addrs = [r["address"] for r in daemon.records("listening") if r["mode"] == mode]
    if len(addrs) != 1:
        raise AssertionError("expected one %s listener, log says %r" % (mode, addrs))
    return int(addrs[0].rpartition(":")[2])


def start_tarpit(test, interval, drip, max_hold, sinks=()):
    # No greet delay: these cases time the drip and the hold alone.
    return Daemon.start(test, "--tarpit", "127.0.0.1:0", "--tarpit-interval", interval, "--tarpit-drip-bytes", drip,
                        "--tarpit-max-hold", max_hold, "--greet-delay", "0", sinks=sinks, listeners=1 + len(sinks))


# What Postfix logs when the hold ends while it waits for the greeting or
# the EHLO reply. The tarpit sends its 421 right after the part of the
# reply already dripped, inside a line: Postfix reads "220 mx.e421 4.4.2 ..."
# as the greeting (or as more of the EHLO reply), sends EHLO and finds the
# connection closed. A 421 on a line of its own would be logged as such.
# Both are deferrals.
HOLD_END = re.compile(r"^(host 127\.0\.0\.1\[127\.0\.0\.1\] (refused to talk to me|said): %s"
                      r"( \(in reply to [A-Z ]+ command\))?|"
                      r"lost connection with 127\.0\.0\.1\[127\.0\.0\.1\] while performing the EHLO handshake)$"
                      % re.escape(REPLY_421))


class PostfixWitnessTest(unittest.TestCase):

    def context(self, pf, *daemons):
        return "\n--- maillog ---\n%s%s" % ("\n".join(pf.log_lines()[-40:]), "".join(
            "\n--- spamsink ---\n" + "\n".join(d.log_lines()[-20:]) for d in daemons))

    def assert_no_bounce(self, pf, *daemons):
        """Nothing was returned to the sender: no bounced or expired status,
        no notice from the bounce daemon."""
        text = pf.log_text()
        for bad in ("status=bounced", "status=expired", "notification", "sender delivery status"):
            self.assertNotIn(bad, text, self.context(pf, *daemons))

    def assert_still_queued(self, pf, qids, *daemons):
        """Exactly our messages are queued: no bounce (sender <>) among them."""
        q = pf.queue()
        self.assertEqual(sorted((m["queue_id"], m["sender"]) for m in q), sorted((qid, SENDER) for qid in qids),
                         self.context(pf, *daemons))
        return {m["queue_id"]: m for m in q}

    def test_tarpit_alone_defers_and_postfix_retries(self):
        # 25 ms x 4 bytes: the ~310 bytes of the dialogue take about 2 s,
        # well inside the 5 s hold, so every attempt ends in the 451.
        d = start_tarpit(self, "25ms", "4", "5s")
        pf = Postfix.start(self, d.port)
        qid = pf.submit("deferred")
        attempts = pf.wait_deliveries(qid, 2, 30 * SLOW)
        self.assertGreaterEqual(len(attempts), 2, self.context(pf, d))
        for a in attempts[:2]:
            self.assertEqual((a["to"], a["relay"], a["status"], a["dsn"]),
                             (RCPT, "127.0.0.1[127.0.0.1]:%d" % d.port, "deferred", "4.3.0"), self.context(pf, d))
            self.assertEqual(a["reason"], "host 127.0.0.1[127.0.0.1] said: %s (in reply to end of DATA command)"
                             % REPLY_451)
            # Postfix's own view of the hold: connection setup + transfer.
            self.assertGreater(sum(float(x) for x in a["delays"].split("/")[2:]), 1.0, a)
        self.assert_no_bounce(pf, d)
        entry = self.assert_still_queued(pf, [qid], d)[qid]
        self.assertEqual([r["address"] for r in entry["recipients"]], [RCPT])

        # Spamsink's side: one held session per attempt, the whole dialogue
        # dripped (Postfix sent the message, the tarpit took none), ended by
        # Postfix's QUIT, after which it closes without reading the 221.
        sessions = d.session_closes(2, timeout=10 * SLOW)
        self.assertEqual(len({s["port"] for s in sessions}), len(sessions))
        for s in sessions[:2]:
            self.assertEqual((s["mode"], s["ip"], s["messages"], s["phase"], s["end"]),
                             ("tarpit", "127.0.0.1", "0", "quit", "peer_closed"), s)
            self.assertGreater(int(s["bytes_in"]), 300)  # EHLO, MAIL, RCPT, DATA, the message, QUIT
            # 4 bytes every 25 ms (the first drip of each reply waits one
            # interval too): bytes_out took at least this long.
            self.assertGreaterEqual(int(s["duration_ms"]), 0.9 * 25 * (int(s["bytes_out"]) // 4 - 1), s)
            self.assertLess(int(s["duration_ms"]), 5000, s)

    def test_max_hold_mid_dialogue_defers_too(self):
        # 80 bytes/s against a 2 s hold: the hold ends inside the EHLO reply.
        d = start_tarpit(self, "50ms", "4", "2s")
        pf = Postfix.start(self, d.port)
        qid = pf.submit("held")
        attempts = pf.wait_deliveries(qid, 1, 30 * SLOW)
        self.assertGreaterEqual(len(attempts), 1, self.context(pf, d))
        a = attempts[0]
        self.assertEqual((a["relay"], a["status"]), ("127.0.0.1[127.0.0.1]:%d" % d.port, "deferred"),
                         self.context(pf, d))
        self.assertEqual(a["dsn"][:2], "4.", a)
        s = d.session_closes(1, timeout=10 * SLOW)[0]
        self.assertEqual((s["mode"], s["end"], s["phase"], s["messages"]), ("tarpit", "lifetime", "helo", "0"), s)
        self.assertGreaterEqual(int(s["duration_ms"]), 1950, s)
        self.assertLess(int(s["duration_ms"]), 2500, s)
        self.assertRegex(a["reason"], HOLD_END)
        self.assert_no_bounce(pf, d)
        self.assert_still_queued(pf, [qid], d)

    def test_tarpit_then_fallback_sink_delivers_once(self):
        # The tarpit as first hop, the sink as the fallback: a real
        # deployment's tarpit MX in front of the real one.
        d = start_tarpit(self, "25ms", "4", "5s", sinks=("127.0.0.1:0",))
        tarpit_port, sink_port = listener_port(d, "tarpit"), listener_port(d, "sink")
        pf = Postfix.start(self, tarpit_port, "smtp_fallback_relay = [127.0.0.1]:%d\n" % sink_port)
        qid = pf.submit("fallback")
        done = pf.wait_deliveries(qid, 1, 30 * SLOW)
        self.assertEqual(len(done), 1, self.context(pf, d))
        a = done[0]
        self.assertEqual((a["to"], a["relay"], a["status"], a["dsn"]),
                         (RCPT, "127.0.0.1[127.0.0.1]:%d" % sink_port, "sent", "2.0.0"), self.context(pf, d))
        self.assertRegex(a["reason"], r"^250 2\.0\.0 Ok: queued as [0-9A-F]{11}$")
        # The tarpit was tried first, and its 451 is why the fallback was.
        self.assertIn("%s: host 127.0.0.1[127.0.0.1] said: %s (in reply to end of DATA command)" % (qid, REPLY_451),
                      pf.log_text())
        self.assertIsNotNone(pf.wait_log(lambda l: l.endswith(": %s: removed" % qid), 10 * SLOW), self.context(pf, d))
        self.assert_no_bounce(pf, d)
        self.assertEqual(pf.queue(), [])
        self.assertEqual(len(pf.deliveries(qid)), 1)

        d.wait_totals(self, sessions=2, messages=1, open=0)
        closes = d.session_closes(2)
        self.assertEqual(len(closes), 2, closes)
        by_mode = {s["mode"]: s for s in closes}
        self.assertEqual(sorted(by_mode), ["sink", "tarpit"], closes)
        self.assertEqual((by_mode["sink"]["messages"], by_mode["sink"]["end"]), ("1", "quit"), by_mode["sink"])
        self.assertEqual((by_mode["tarpit"]["messages"], by_mode["tarpit"]["phase"]), ("0", "quit"),
                         by_mode["tarpit"])
        # The tarpit held Postfix before it moved on: its delay includes the hold.
        self.assertGreaterEqual(int(by_mode["tarpit"]["duration_ms"]), 1000, by_mode["tarpit"])
        self.assertGreater(float(a["delay"]), int(by_mode["tarpit"]["duration_ms"]) / 1000.0 - 0.5, a)

    def test_drip_holds_postfix_until_max_hold_unless_per_record_deadline(self):
        # The default drip, 1 byte/s, an 8 s hold, and smtp_helo_timeout =
        # 3s for both transports: plain `smtp` restarts that timer on every
        # byte it reads and stays the whole hold; `perrec` (the per-record
        # deadline) must read the whole greeting line in 3 s, and leaves.
        plain = start_tarpit(self, "1s", "1", "8s")
        perrec = start_tarpit(self, "1s", "1", "8s")
        pf = Postfix.start(self, plain.port, "smtp_helo_timeout = 3s\n"
                           "transport_maps = inline:{ perrecord.example=perrec:[127.0.0.1]:%d }\n" % perrec.port)
        qid_plain = pf.submit("plain")
        qid_perrec = pf.submit("perrec", rcpt="rcpt@perrecord.example")

        a = pf.wait_deliveries(qid_perrec, 1, 20 * SLOW)
        self.assertEqual(len(a), 1, self.context(pf, plain, perrec))
        self.assertEqual((a[0]["relay"], a[0]["status"], a[0]["reason"]),
                         ("127.0.0.1[127.0.0.1]:%d" % perrec.port, "deferred",
                          "conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting"),
                         self.context(pf, plain, perrec))
        s = perrec.session_closes(1)[0]
        self.assertEqual((s["end"], s["phase"], s["bytes_in"]), ("peer_closed", "greeting", "0"), s)
        self.assertGreaterEqual(int(s["duration_ms"]), 2900, s)
        self.assertLess(int(s["duration_ms"]), 4500, s)
        self.assertLessEqual(int(s["bytes_out"]), 5, s)  # 1 byte/s: no line end yet

        a = pf.wait_deliveries(qid_plain, 1, 20 * SLOW)
        self.assertEqual(len(a), 1, self.context(pf, plain, perrec))
        self.assertEqual((a[0]["relay"], a[0]["status"]), ("127.0.0.1[127.0.0.1]:%d" % plain.port, "deferred"),
                         self.context(pf, plain, perrec))
        self.assertRegex(a[0]["reason"], HOLD_END)
        s = plain.session_closes(1)[0]
        self.assertEqual((s["end"], s["phase"], s["bytes_in"]), ("lifetime", "greeting", "0"), s)
        self.assertGreaterEqual(int(s["duration_ms"]), 7950, s)
        self.assertLess(int(s["duration_ms"]), 8500, s)
        # Postfix saw the held time as connection setup.
        self.assertGreaterEqual(float(a[0]["delays"].split("/")[2]), 7.5, a[0])

        self.assert_no_bounce(pf, plain, perrec)
        self.assert_still_queued(pf, [qid_plain, qid_perrec], plain, perrec)


if __name__ == "__main__":
    unittest.main()
