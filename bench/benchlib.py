"""bench/benchlib.py: what the Python benchmarks share.

What it covers: the pieces both bench/macro.py (spamsink against smtp-sink)
and bench/smtpsend_bench.py (smtpsend against smtp-source) need: paths of
the Postfix tools and the build dir, a free port on 127.0.0.1, polling with
a timeout, a server process under test (Server) and Postfix smtp-sink as one
(SmtpSink: its pid for CPU readings, its -c message counters), running one
client with a timeout and its own rusage, and the tool versions recorded in
the JSON results. Imported by the scripts, which run from this directory.
"""

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMTP_SOURCE = "/usr/sbin/smtp-source"
SMTP_SINK = "/usr/sbin/smtp-sink"
HOST = "127.0.0.1"


class BenchError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build_dir():
    b = os.environ.get("BUILD", "build")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def free_port():
    # Below the ephemeral range, so thousands of client connections in the
    # conn scenarios never compete with the listening ports.
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((HOST, port))
                return port
            except OSError:
                continue
    raise BenchError("no free port found in 20000-32000")


def socket_fds(pid):
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def wait_until(pred, timeout, step=0.02):
    """Polls pred until it is truthy or timeout s pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(step)


class Server:
    """A server process under test. Subclasses give argv and the counter."""

    name = "?"
    label = "?"

    def __init__(self, tmp):
        self.tmp = tmp
        self.port = free_port()
        self.proc = None
        self.idle_sockets = None

    def start(self):
        raise NotImplementedError

    def messages(self):
        raise NotImplementedError

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self):
        if not self.alive():
            rc = self.proc.returncode if self.proc else None
            raise BenchError(f"{self.label} is not running (exit {rc}); see {self.tmp}")

    def settle(self, timeout):
        """Waits until the server has closed every connection of the run."""
        ok = wait_until(lambda: socket_fds(self.pid) <= self.idle_sockets, timeout)
        if not ok:
            raise BenchError(f"{self.label}: connections still open {timeout}s after the client exited")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log(f"warning: {self.label} (pid {self.pid}) did not die")
        except ProcessLookupError:
            pass


class SmtpSink(Server):
    """Postfix smtp-sink -c on HOST:port; max_sessions, when given, is its -m."""

    name = "smtp-sink"
    label = "smtp-sink"
    # smtp-sink -c writes "sess=N quit=N mesg=N\r" on stdout at each session
    # end, QUIT and ".", flushed each time; the last complete one is current.
    COUNTERS = re.compile(rb"sess=(\d+) quit=(\d+) mesg=(\d+)\r")

    def __init__(self, tmp, max_sessions=None):
        super().__init__(tmp)
        self.max_sessions = max_sessions

    def start(self):
        self.out_path = os.path.join(self.tmp, "smtp-sink.out")
        argv = [SMTP_SINK]
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]  # smtp-sink refuses to run as root without it
        argv.append("-c")
        if self.max_sessions is not None:
            argv += ["-m", str(self.max_sessions)]
        argv += [f"{HOST}:{self.port}", "1000"]
        self.argv = argv
        self.out = open(self.out_path, "wb")
        self.err = open(os.path.join(self.tmp, "smtp-sink.err"), "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.err)
        # Ready when its listening socket exists (a probe connection would
        # be counted as a session).
        if not wait_until(lambda: not self.alive() or self._listening(), 10):
            raise BenchError("smtp-sink did not start listening in 10 s")
        self.check_alive()
        self.idle_sockets = socket_fds(self.pid)

    def _listening(self):
        hexport = f":{self.port:04X} "
        with open("/proc/net/tcp") as f:
            for line in f:
                parts = line.split()
                # local_address ends with :PORT, state 0A = LISTEN
                if len(parts) > 3 and (parts[1] + " ").endswith(hexport) and parts[3] == "0A":
                    return True
        return False

    def messages(self):
        with open(self.out_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 512))
            tail = f.read()
        found = self.COUNTERS.findall(tail)
        return int(found[-1][2]) if found else 0

    def stop(self):
        super().stop()
        for f in (getattr(self, "out", None), getattr(self, "err", None)):
            if f:
                f.close()


def run_client(argv, timeout, out_path):
    """Runs one client (smtp-source, smtpsend) with its output appended to
    out_path; returns (exit status, wall s, client CPU s, timed out)."""
    with open(out_path, "ab") as out:
        out.write(("$ " + " ".join(argv) + "\n").encode())
        out.flush()
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        fired = threading.Event()

        def kill():
            fired.set()
            proc.kill()

        killer = threading.Timer(timeout, kill)
        killer.start()
        try:
            # wait4 gives the child's own rusage, and reaps it.
            _, status, ru = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            killer.cancel()
        wall = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, wall, ru.ru_utime + ru.ru_stime, fired.is_set()


def ratio(a, b, default=None):
    """a / b, or default when a is None or b is None or 0."""
    return a / b if a is not None and b else default


def tool_versions(git=True):
    """The Postfix package version and, with git, spamsink's commit; None
    for what could not be asked."""
    v = {}
    try:
        v["postfix"] = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "postfix"], capture_output=True,
                                      text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        v["postfix"] = None
    if git:
        try:
            v["spamsink_git"] = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                                               capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            v["spamsink_git"] = None
    return v
