#!/usr/bin/env python3
"""bench/macro.py: spamsink against Postfix smtp-sink, driven by smtp-source.

What it covers: the macro benchmark of the sink mode. Postfix smtp-source
sends the same load to Postfix `smtp-sink` (the peer) and to spamsink
(--threads 1, and --threads 2 for information) in the same run, interleaved
run by run so that noise on this shared machine hits every server alike.
Three scenarios:
  conn  one message per connection   smtp-source -s 20 -m 20000 -l 1024
  msg   many messages per connection smtp-source -s 20 -d -m 50000 -l 1024
  bulk  1 MB messages                smtp-source -s 4 -d -m 2000 -l 1000000
Per run: messages/s (wall time of smtp-source), messages per server
CPU-second (utime+stime of the whole server process from /proc/PID/stat,
fields 14 and 15, read before and after the run), and smtp-source's own CPU
(from its rusage). Each run is verified: smtp-source exits 0 and the server
counted exactly the messages sent (smtp-sink -c counters on its stdout;
spamsink's `event=totals` line after SIGUSR1). Medians over the runs give
the ratios spamsink/smtp-sink and the issue's bars (spamsink --threads 1):
msg/CPU-s >= 1.2x in conn and msg, >= 3x in bulk, msg/s >= 1x everywhere.
Limits: every subprocess has a timeout, the whole benchmark a time budget
(--max-seconds); servers are killed on every exit path. Traffic stays on
127.0.0.1. The smtp-sink wrapper, the client runner and the other shared
pieces are in bench/benchlib.py.
Exit status: 0 all runs verified and bars met; 1 a run failed verification
or could not run; 2 a bar missed (0 with --report-only).
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import (HOST, SMTP_SINK, SMTP_SOURCE, BenchError, Server, SmtpSink, build_dir, log, ratio,
                      run_client, socket_fds, tool_versions, wait_until)

CLK_TCK = os.sysconf("SC_CLK_TCK")

# The scenarios: smtp-source -s sessions [-d] -m messages -l length.
SCENARIOS = {
    "conn": {"what": "one message per connection", "sessions": 20, "keep": False,
             "messages": 20000, "length": 1024},
    "msg": {"what": "many messages per connection", "sessions": 20, "keep": True,
            "messages": 50000, "length": 1024},
    "bulk": {"what": "1 MB messages", "sessions": 4, "keep": True,
             "messages": 2000, "length": 1000000},
}
# The bars, on spamsink --threads 1 against smtp-sink (medians).
CPU_BARS = {"conn": 1.2, "msg": 1.2, "bulk": 3.0}
# Rows shown for information under the bar's row: server name -> what it is.
INFO_ROWS = {
    "spamsink-t1-nodb": "spamsink --threads 1 --db none: the engine without the store",
    "spamsink-t1-nowait": "spamsink --threads 1 --batch-wait 0: no waiting after bursts",
    "floor": "bench/floor_server: a minimal epoll loop, the floor the kernel sets",
}
RATE_BAR = 1.0


def cpu_ticks(pid):
    """utime+stime of the whole process (all threads), in clock ticks."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    # comm may hold spaces or ')': fields start after the last ')'.
    rest = data[data.rindex(b")") + 2:].split()
    # rest[0] is field 3 (state): field 14 is rest[11], field 15 rest[12].
    return int(rest[11]) + int(rest[12])


class Spamsink(Server):
    name = "spamsink"
    TOTALS = re.compile(rb"event=totals .*?\bmessages=(\d+)")

    def __init__(self, tmp, binary, threads, extra=None, name=None, listener_flag="--sink"):
        super().__init__(tmp)
        self.listener_flag = listener_flag
        self.binary = binary
        self.threads = threads
        self.name = name or f"spamsink-t{threads}"
        self.label = f"spamsink --threads {threads}" + ("" if extra is None else " " + " ".join(extra))
        self.log_offset = 0
        # The store as shipped (a database under --state-dir), kept in this
        # benchmark's temp dir rather than var/ of the working directory.
        self.extra = ["--state-dir", os.path.join(tmp, self.name + "-state")] if extra is None else list(extra)

    def start(self):
        self.log_path = os.path.join(self.tmp, f"{self.name}.log")
        self.argv = [self.binary, self.listener_flag, f"{HOST}:{self.port}", "--threads", str(self.threads)] + self.extra
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log_file)
        if not wait_until(lambda: not self.alive() or self._new_lines(rb"event=started"), 10):
            raise BenchError(f"{self.label} did not log event=started in 10 s; see {self.log_path}")
        self.check_alive()
        self.idle_sockets = socket_fds(self.pid)

    def _new_lines(self, needle):
        """Matches of `needle` in the log since the last call (kept offset)."""
        with open(self.log_path, "rb") as f:
            f.seek(self.log_offset)
            data = f.read()
        end = data.rfind(b"\n") + 1  # only whole lines
        self.log_offset += end
        return [m for m in re.finditer(needle, data[:end])]

    def messages(self):
        self._new_lines(rb"$^")  # skip to the end of the log
        self.proc.send_signal(signal.SIGUSR1)
        found = wait_until(lambda: self._new_lines(self.TOTALS), 5, step=0.01)
        if not found:
            raise BenchError(f"{self.label}: no event=totals line 5 s after SIGUSR1")
        return int(found[-1].group(1))

    def stop(self):
        super().stop()
        if getattr(self, "log_file", None):
            self.log_file.close()


class FloorServer(Server):
    """bench/floor_server: a minimal single-threaded epoll sink (--floor)."""

    name = "floor"
    label = "floor_server"
    info_only = True  # a failure is logged, not counted against the benchmark
    COUNT = re.compile(rb"^messages=(\d+)$", re.M)

    def __init__(self, tmp, binary):
        super().__init__(tmp)
        self.binary = binary

    def start(self):
        self.out_path = os.path.join(self.tmp, "floor_server.out")
        self.argv = [self.binary, str(self.port)]
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.out)
        if not wait_until(lambda: not self.alive() or b"listening" in self._read(), 10):
            raise BenchError(f"floor_server did not start listening in 10 s; see {self.out_path}")
        self.check_alive()
        self.idle_sockets = socket_fds(self.pid)

    def _read(self):
        with open(self.out_path, "rb") as f:
            return f.read()

    def messages(self):
        before = len(self.COUNT.findall(self._read()))
        self.proc.send_signal(signal.SIGUSR1)
        if not wait_until(lambda: len(self.COUNT.findall(self._read())) > before, 5, step=0.01):
            raise BenchError(f"floor_server: no messages= line 5 s after SIGUSR1")
        return int(self.COUNT.findall(self._read())[-1])

    def stop(self):
        super().stop()
        if getattr(self, "out", None):
            self.out.close()


def client_argv(sc, port, scale):
    n = max(1, int(round(sc["messages"] * scale)))
    argv = [SMTP_SOURCE, "-s", str(min(sc["sessions"], n))]
    if sc["keep"]:
        argv.append("-d")
    argv += ["-m", str(n), "-l", str(sc["length"]), f"{HOST}:{port}"]
    return argv, n


def measure(server, scenario, sc, args, deadline, tmp):
    server.check_alive()
    argv, n = client_argv(sc, server.port, args.scale)
    timeout = min(args.run_timeout, deadline - time.monotonic())
    if timeout < 5:
        raise BenchError("time budget (--max-seconds) used up")
    m0 = server.messages()
    c0 = cpu_ticks(server.pid)
    rc, wall, client_cpu, timed_out = run_client(argv, timeout, os.path.join(tmp, "smtp-source.out"))
    settle_error = None
    try:
        server.settle(10)
    except BenchError as e:
        settle_error = str(e)
    # spamsink's log sink flushes batched lines every 250 ms: let that land
    # in this run's CPU, as it is this run's work.
    time.sleep(0.3)
    c1 = cpu_ticks(server.pid)
    # Every connection is closed, so the counters should be final; a few
    # bounded retries cover a counter written just after the close.
    m1 = server.messages()
    for _ in range(10):
        if m1 - m0 >= n:
            break
        time.sleep(0.2)
        m1 = server.messages()
    counted = m1 - m0
    cpu = (c1 - c0) / CLK_TCK
    errors = []
    if timed_out:
        errors.append(f"smtp-source timed out after {timeout:.0f} s")
    if rc != 0:
        errors.append(f"smtp-source exited {rc}")
    if counted != n:
        errors.append(f"server counted {counted} messages, {n} sent")
    if settle_error:
        errors.append(settle_error)
    return {
        "messages": n,
        "counted": counted,
        "exit": rc,
        "wall_s": wall,
        "server_cpu_s": cpu,
        "client_cpu_s": client_cpu,
        "msg_per_s": n / wall if wall > 0 else None,
        # One clock tick is the resolution: a run below it has no figure.
        "msg_per_cpu_s": n / cpu if cpu > 0 else None,
        "ok": not errors,
        "errors": errors,
        "argv": argv,
    }


def median(values):
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def summarize(runs):
    good = [r for r in runs if r["ok"]]
    return {
        "runs_ok": len(good),
        "msg_per_s": median([r["msg_per_s"] for r in good]),
        "msg_per_cpu_s": median([r["msg_per_cpu_s"] for r in good]),
        "server_cpu_s": median([r["server_cpu_s"] for r in good]),
        "client_cpu_s": median([r["client_cpu_s"] for r in good]),
        "wall_s": median([r["wall_s"] for r in good]),
    }


def interleave(servers, scen, args, deadline, tmp, tag, after=None):
    """Runs scenario `scen` args.runs times on every server, interleaved
    (a, b, a, b, ...) so that the shared machine's noise hits all alike;
    logs each run; `after(server, result)` sees each result. Returns
    ({server name: [results]}, any run failed)."""
    sc = SCENARIOS[scen]
    per = {s.name: [] for s in servers}
    failed = False
    for i in range(args.runs):
        for s in servers:
            info = getattr(s, "info_only", False)
            try:
                r = measure(s, scen, sc, args, deadline, tmp)
            except BenchError as e:
                if not info:
                    raise
                # An information row failing spoils neither the others nor the verdict.
                log("%s: %-4s run %d/%d %-22s FAILED (information only): %s" % (tag, scen, i + 1, args.runs,
                                                                                 s.label, e))
                continue
            per[s.name].append(r)
            if after is not None:
                after(s, r)
            log("%s: %-4s run %d/%d %-22s %8s msg/s %9s msg/CPU-s  srv %.2fs cli %.2fs wall %.2fs %s" % (
                tag, scen, i + 1, args.runs, s.label, fmt(r["msg_per_s"], ",.0f"),
                fmt(r["msg_per_cpu_s"], ",.0f"), r["server_cpu_s"], r["client_cpu_s"], r["wall_s"],
                "ok" if r["ok"] else "FAILED: " + "; ".join(r["errors"])))
            failed |= not r["ok"] and not info
    return per, failed


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def print_report(results, servers, out):
    w = out.write
    w("\nspamsink vs Postfix smtp-sink (smtp-source load), median of %d run(s)\n" % results["runs"])
    if results["scale"] != 1:
        w("NOTE: message counts scaled by %g; the bars are meant for full runs\n" % results["scale"])
    w("\n%-6s %-20s %10s %11s %9s %9s %5s %8s %5s\n" %
      ("scen", "server", "msg/s", "msg/CPU-s", "srv CPU", "cli CPU", "cli%", "wall", "ok"))
    for scen, sres in results["scenarios"].items():
        for s in servers:
            m = sres["servers"][s.name]["median"]
            busy = ratio(m["client_cpu_s"], m["wall_s"])
            w("%-6s %-20s %10s %11s %8ss %8ss %4s%% %7ss %2d/%d\n" % (
                scen, s.label, fmt(m["msg_per_s"], ",.0f"), fmt(m["msg_per_cpu_s"], ",.0f"),
                fmt(m["server_cpu_s"], ".2f"), fmt(m["client_cpu_s"], ".2f"),
                fmt(busy * 100 if busy is not None else None, ".0f"), fmt(m["wall_s"], ".2f"),
                m["runs_ok"], len(sres["servers"][s.name]["runs"])))
    w("\nratios spamsink/smtp-sink; bars on --threads 1: msg/CPU-s >= 1.2x (conn, msg), >= 3x (bulk);"
      " msg/s >= 1x\n")
    w("%-6s %9s %11s %9s %11s  %-28s %s\n" %
      ("scen", "t1 msg/s", "t1 msg/CPU", "t2 msg/s", "t2 msg/CPU", "bar (t1)", "result"))
    for scen, sres in results["scenarios"].items():
        r = sres["ratios"]
        b = sres["bar"]
        def rx(server, key):
            v = r.get(server, {}).get(key)
            return "-" if v is None else "%.3fx" % v

        w("%-6s %9s %11s %9s %11s  %-28s %s\n" % (
            scen, rx("spamsink-t1", "msg_per_s"), rx("spamsink-t1", "msg_per_cpu_s"),
            rx("spamsink-t2", "msg_per_s"), rx("spamsink-t2", "msg_per_cpu_s"),
            "msg/CPU-s>=%gx, msg/s>=%gx" % (b["cpu_bar"], b["rate_bar"]), b["result"]))
        for name, what in INFO_ROWS.items():
            if name in r:
                w("%-6s %9s %11s  (%s)\n" % ("", rx(name, "msg_per_s"), rx(name, "msg_per_cpu_s"), what))
    w("\nserver CPU = utime+stime from /proc/PID/stat (resolution 1/%d s); cli CPU = smtp-source rusage;\n"
      "cli%% = client CPU / wall: near 100%% the client, not the server, sets msg/s\n" % CLK_TCK)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenario", action="append", choices=list(SCENARIOS),
                   help="run only this scenario (repeatable; default: all)")
    p.add_argument("--runs", type=int, default=3, help="runs per server and scenario (default 3)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply the message counts, e.g. 0.1 for a quick check (default 1)")
    p.add_argument("--no-threads2", action="store_true", help="skip the spamsink --threads 2 row")
    p.add_argument("--run-timeout", type=float, default=180, help="seconds one smtp-source run may take")
    p.add_argument("--max-seconds", type=float, default=1800, help="time budget of the whole benchmark")
    p.add_argument("--json", help="where to write the results (default $BUILD/bench/results.json)")
    p.add_argument("--keep-tmp", action="store_true", help="keep the temp dir with the server logs")
    p.add_argument("--report-only", action="store_true", help="exit 0 even when a bar is missed")
    p.add_argument("--db-none", action="store_true",
                   help="also run spamsink --threads 1 --db none (the engine without the store), judged too")
    p.add_argument("--batch-wait-off", action="store_true",
                   help="also run spamsink --threads 1 --batch-wait 0 (for information)")
    p.add_argument("--floor", action="store_true",
                   help="also run bench/floor_server, a minimal epoll loop (for information)")
    args = p.parse_args(argv)
    if not 1 <= args.runs <= 50:
        p.error("--runs must be 1..50")
    if not 0 < args.scale <= 10:
        p.error("--scale must be in (0, 10]")
    scenarios = args.scenario or list(SCENARIOS)
    scenarios = [s for s in SCENARIOS if s in scenarios]  # fixed order, no duplicates

    build = build_dir()
    binary = os.path.join(build, "bin", "spamsink")
    floor = os.path.join(build, "bin", "floor_server")
    for path in (binary, SMTP_SOURCE, SMTP_SINK) + ((floor,) if args.floor else ()):
        if not os.access(path, os.X_OK):
            log(f"macro: {path} not found or not executable (BUILD={build}; Postfix: apt-get install postfix)")
            return 1
    json_path = args.json or os.path.join(build, "bench", "results.json")

    deadline = time.monotonic() + args.max_seconds
    tmp = tempfile.mkdtemp(prefix="spamsink-bench-")
    servers = []
    failed = False

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        servers.append(SmtpSink(tmp, max_sessions=1000))
        servers.append(Spamsink(tmp, binary, 1))
        if args.db_none:
            servers.append(Spamsink(tmp, binary, 1, extra=["--db", "none"], name="spamsink-t1-nodb"))
        if args.batch_wait_off:
            servers.append(Spamsink(tmp, binary, 1, extra=["--batch-wait", "0"], name="spamsink-t1-nowait"))
        if args.floor:
            servers.append(FloorServer(tmp, floor))
        if not args.no_threads2:
            servers.append(Spamsink(tmp, binary, 2))
        for s in list(servers):
            try:
                s.start()
            except BenchError as e:
                if not getattr(s, "info_only", False):
                    raise
                log(f"macro: {s.label} did not start, its row is left out (information only): {e}")
                s.stop()
                servers.remove(s)
                continue
            log(f"macro: {s.label} pid {s.pid} on {HOST}:{s.port}")

        results = {
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "runs": args.runs, "scale": args.scale, "clk_tck": CLK_TCK, "cpus": os.cpu_count(),
            "kernel": os.uname().release, "versions": tool_versions(),
            "servers": {s.name: {"label": s.label, "argv": s.argv} for s in servers},
            "scenarios": {},
        }
        for scen in scenarios:
            sc = SCENARIOS[scen]
            per, bad = interleave(servers, scen, args, deadline, tmp, "macro")
            failed |= bad
            sres = {"what": sc["what"], "argv": per[servers[0].name][0]["argv"][:-1],
                    "servers": {n: {"runs": runs, "median": summarize(runs)} for n, runs in per.items()},
                    "ratios": {}}
            base = sres["servers"]["smtp-sink"]["median"]
            for s in servers[1:]:
                m = sres["servers"][s.name]["median"]
                sres["ratios"][s.name] = {"msg_per_s": ratio(m["msg_per_s"], base["msg_per_s"]),
                                          "msg_per_cpu_s": ratio(m["msg_per_cpu_s"], base["msg_per_cpu_s"])}
            r1 = sres["ratios"]["spamsink-t1"]
            if r1["msg_per_s"] is None or r1["msg_per_cpu_s"] is None:
                verdict = "NO DATA"
            elif r1["msg_per_cpu_s"] >= CPU_BARS[scen] and r1["msg_per_s"] >= RATE_BAR:
                verdict = "PASS"
            else:
                verdict = "FAIL"
            sres["bar"] = {"server": "spamsink-t1", "cpu_bar": CPU_BARS[scen], "rate_bar": RATE_BAR,
                           "result": verdict}
            results["scenarios"][scen] = sres

        results["all_runs_ok"] = not failed
        results["bars_met"] = all(v["bar"]["result"] == "PASS" for v in results["scenarios"].values())
        os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
        with open(json_path, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
        print_report(results, servers, sys.stdout)
        print(f"results: {json_path}")
        if failed:
            print("macro: some runs FAILED verification (see above); their figures are left out")
            return 1
        if not results["bars_met"] and not args.report_only:
            return 2
        return 0
    except BenchError as e:
        log(f"macro: error: {e}")
        return 1
    except KeyboardInterrupt as e:
        log(f"macro: interrupted ({e})")
        return 1
    finally:
        for s in servers:
            s.stop()
        for s, h in old.items():
            signal.signal(s, h)
        if args.keep_tmp or failed:
            log(f"macro: logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
