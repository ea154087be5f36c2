#!/usr/bin/env python3
"""bench/smtpsend_bench.py: smtpsend against Postfix smtp-source, as clients.

What it covers: the client side. Both load generators send the same load to
the same Postfix `smtp-sink -u nobody -c 127.0.0.1:PORT 1000`, interleaved
run by run so that noise on this shared machine hits both alike:
  one message per connection    smtp-source -s 20 -m 20000 -l 1024
                                smtpsend    -s 20 -m 1 -n 20000 -b 1024
  many messages per connection  smtp-source -s 20 -d -m 50000 -l 1024
                                smtpsend    -s 20 -m 2500 -n 50000 -b 1024
                                smtpsend    ... --pipelining (for information)
and, in both scenarios for information, bench/floor_client: the least a
lock-step client can do (one epoll loop, no parsing, no statistics), the
floor that the kernel's sends and receives set for any client.
Per run: the client's messages/s (wall time from spawn to exit, the same
clock for both) and its CPU-seconds per message (utime+stime from the
child's own rusage, os.wait4). Each run is verified: the client exits 0 and
smtp-sink counted exactly the messages sent (its -c counters). Medians over
--runs give the ratios smtpsend/smtp-source and the bar, in both scenarios,
for plain smtpsend: msg/s >= 1.0x and client CPU per message <= 0.7x.
Output: a table on stdout, JSON in $BUILD/bench/smtpsend.json (BUILD:
default build, relative to the repository root).
Limits: every subprocess has a timeout; smtp-sink is stopped on every exit
path. Traffic stays on 127.0.0.1. The smtp-sink wrapper, the client runner
and the other shared pieces are in bench/benchlib.py.
Exit status: 0 all runs verified and the bar met; 1 a run failed
verification or could not run; 2 the bar missed (0 with --report-only).
"""

import argparse
import datetime
import json
import os
import signal
import statistics
import sys
import tempfile
import time

from benchlib import (HOST, SMTP_SINK, SMTP_SOURCE, BenchError, SmtpSink, build_dir, log, ratio, run_client,
                      tool_versions, wait_until)

RATE_BAR = 1.0  # smtpsend msg/s >= 1.0x smtp-source
JUDGED = ("smtp-source", "smtpsend")  # the bar's two clients; the other rows are for information
CPU_BAR = 0.7   # smtpsend CPU per message <= 0.7x smtp-source
INF = float("inf")  # a ratio over a zero median


def scenarios(smtpsend, floor, port):
    addr = "%s:%d" % (HOST, port)
    ours = [smtpsend, "--no-progress", "-p", str(port)]
    floor_argv = [floor, str(port), "20"]
    return [
        {"key": "conn", "what": "one message per connection", "messages": 20000,
         "clients": [
             ("smtp-source", [SMTP_SOURCE, "-s", "20", "-m", "20000", "-l", "1024", addr]),
             ("smtpsend", ours + ["-s", "20", "-m", "1", "-n", "20000", "-b", "1024", HOST]),
             ("floor_client", floor_argv + ["1", "20000"]),
         ]},
        {"key": "msg", "what": "many messages per connection", "messages": 50000,
         "clients": [
             ("smtp-source", [SMTP_SOURCE, "-s", "20", "-d", "-m", "50000", "-l", "1024", addr]),
             ("smtpsend", ours + ["-s", "20", "-m", "2500", "-n", "50000", "-b", "1024", HOST]),
             ("smtpsend --pipelining", ours + ["-s", "20", "-m", "2500", "-n", "50000", "-b", "1024", "--pipelining",
                                               HOST]),
             ("floor_client", floor_argv + ["2500", "50000"]),
         ]},
    ]


def measure(sink, label, argv, messages, timeout, tmp):
    sink.check_alive()
    before = sink.messages()
    out_path = os.path.join(tmp, "clients.log")
    rc, wall, cpu, timed_out = run_client(argv, timeout, out_path)
    if timed_out:
        raise BenchError("%s timed out after %d s; see %s" % (label, timeout, out_path))
    if rc != 0:
        raise BenchError("%s exited %d; see %s" % (label, rc, out_path))
    # The sink counts at '.', possibly a moment after the client exits.
    wait_until(lambda: sink.messages() - before >= messages, 10)
    time.sleep(0.05)
    counted = sink.messages() - before
    if counted != messages:
        raise BenchError("%s: smtp-sink counted %d messages, expected %d" % (label, counted, messages))
    return {"wall_s": wall, "cpu_s": cpu, "messages": messages, "messages_per_s": messages / wall,
            "cpu_us_per_message": cpu / messages * 1e6}


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def summarize(results):
    """Adds medians, ratios to smtp-source and the bar verdicts."""
    ok = True
    for sc in results:
        base = sc["clients"]["smtp-source"]
        for label, c in sc["clients"].items():
            if not c["runs"]:
                continue  # an information row whose every run failed
            c["median_messages_per_s"] = median(c["runs"], "messages_per_s")
            c["median_cpu_us_per_message"] = median(c["runs"], "cpu_us_per_message")
        for label, c in sc["clients"].items():
            if label == "smtp-source" or not c["runs"]:
                continue
            c["ratio_messages_per_s"] = ratio(c["median_messages_per_s"], base["median_messages_per_s"], INF)
            c["ratio_cpu_per_message"] = ratio(c["median_cpu_us_per_message"], base["median_cpu_us_per_message"],
                                               INF)
            c["meets_bar"] = c["ratio_messages_per_s"] >= RATE_BAR and c["ratio_cpu_per_message"] <= CPU_BAR
        sc["pass"] = sc["clients"]["smtpsend"]["meets_bar"]
        ok = ok and sc["pass"]
    return ok


def print_table(results, ok, runs):
    print()
    print("smtpsend vs smtp-source, both against Postfix smtp-sink; medians of %d runs, interleaved" % runs)
    print("bar (plain smtpsend, both scenarios): msg/s >= %.1fx and client CPU per message <= %.1fx" %
          (RATE_BAR, CPU_BAR))
    head = "%-30s %-22s %10s %11s %10s %10s  %s" % ("scenario", "client", "msg/s", "CPU us/msg", "msg/s x",
                                                    "CPU x", "bar")
    print(head)
    print("-" * len(head))
    for sc in results:
        first = True
        for label, c in sc["clients"].items():
            if not c["runs"]:
                print("%-30s %-22s %10s %11s %10s %10s  %s" % (sc["what"] if first else "", label, "-", "-", "-", "-",
                                                               "(info: every run failed)"))
                first = False
                continue
            if label == "smtp-source":
                rx, cx, verdict = "", "", ""
            else:
                rx = "%.2fx" % c["ratio_messages_per_s"]
                cx = "%.2fx" % c["ratio_cpu_per_message"]
                verdict = ("PASS" if c["meets_bar"] else "FAIL") if label == "smtpsend" else \
                    "(info: %s)" % ("meets" if c["meets_bar"] else "misses")
            print("%-30s %-22s %10.0f %11.1f %10s %10s  %s" % (sc["what"] if first else "", label,
                                                               c["median_messages_per_s"],
                                                               c["median_cpu_us_per_message"], rx, cx, verdict))
            first = False
    print("overall: %s" % ("PASS" if ok else "FAIL"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per client and scenario (median), default 3")
    ap.add_argument("--timeout", type=int, default=300, help="seconds allowed per client run, default 300")
    ap.add_argument("--report-only", action="store_true", help="exit 0 even when the bar is missed")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs: at least 1")

    build = build_dir()
    smtpsend = os.path.join(build, "bin", "smtpsend")
    floor = os.path.join(build, "bin", "floor_client")
    for tool in (smtpsend, floor, SMTP_SOURCE, SMTP_SINK):
        if not os.access(tool, os.X_OK):
            log("smtpsend_bench: %s not found or not executable" % tool)
            return 1

    tmp = tempfile.mkdtemp(prefix="smtpsend-bench-")
    sink = None

    def on_signal(sig, _frame):
        raise KeyboardInterrupt("signal %d" % sig)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        sink = SmtpSink(tmp)
        sink.start()
        plan = scenarios(smtpsend, floor, sink.port)
        results = []
        for sc in plan:
            entry = {"key": sc["key"], "what": sc["what"], "messages": sc["messages"], "clients": {}}
            for label, cmd in sc["clients"]:
                entry["clients"][label] = {"argv": cmd, "runs": []}
            results.append(entry)
            # Interleaved: run 1 of every client, then run 2, ...
            for i in range(args.runs):
                for label, cmd in sc["clients"]:
                    try:
                        r = measure(sink, label, cmd, sc["messages"], args.timeout, tmp)
                    except BenchError as e:
                        if label in JUDGED:
                            raise
                        # An information row failing spoils neither the others nor the verdict.
                        log("%s run %d/%d %-22s FAILED (information only): %s" % (sc["key"], i + 1, args.runs,
                                                                                   label, e))
                        entry["clients"][label].setdefault("errors", []).append(str(e))
                        continue
                    entry["clients"][label]["runs"].append(r)
                    log("%s run %d/%d %-22s %8.0f msg/s %7.1f us CPU/msg (%.2f s)" %
                        (sc["key"], i + 1, args.runs, label, r["messages_per_s"], r["cpu_us_per_message"],
                         r["wall_s"]))
    except BenchError as e:
        log("smtpsend_bench: %s" % e)
        return 1
    except KeyboardInterrupt:
        log("smtpsend_bench: interrupted")
        return 1
    finally:
        if sink is not None:
            sink.stop()

    ok = summarize(results)
    print_table(results, ok, args.runs)
    out_dir = os.path.join(build, "bench")
    os.makedirs(out_dir, exist_ok=True)
    doc = {
        "benchmark": "smtpsend_vs_smtp_source",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "runs": args.runs,
        "server": " ".join(sink.argv),
        "bar": {"messages_per_s_ratio_min": RATE_BAR, "cpu_per_message_ratio_max": CPU_BAR,
                "applies_to": "smtpsend (plain) in every scenario"},
        "cpus": os.cpu_count(),
        "loadavg_at_end": os.getloadavg(),
        # Postfix's version only, and only when dpkg-query could run: the keys smtpsend.json has.
        "versions": {k: v for k, v in tool_versions(git=False).items() if v is not None},
        "scenarios": results,
        "pass": ok,
    }
    path = os.path.join(out_dir, "smtpsend.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
    print("results: %s" % path)
    if not ok and not args.report_only:
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
