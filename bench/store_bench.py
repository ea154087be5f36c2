#!/usr/bin/env python3
"""bench/store_bench.py: what the store costs the sink, and its size.

What it covers (issue 7's store figures, in `make bench`):
  1. Sink throughput with the store on (`--db FILE`) against `--db none`, in
     the same run, interleaved run by run: smtp-source drives spamsink
     --threads 1 through bench/macro.py's conn (one message per connection:
     a session and a message row each) and msg (many messages per
     connection) scenarios. Figure: messages per server CPU-second (the
     whole process, writer thread included: utime+stime from /proc), median
     of --runs. Bar: db-on >= 0.9x db-none in every scenario.
     Each run is verified as macro.py does (smtp-source exit 0, the server
     counted exactly the messages sent); after the runs the db-on server is
     stopped with SIGTERM and `spamsink stats --json` must report every
     message sent to it: nothing dropped on the way.
  2. Database size per million sessions: bench/store_fill (built with the
     benchmarks) pushes --fill-sessions synthetic sessions, one 1-recipient
     message each, from 100,000 addresses, through the Store API; figure:
     file bytes per session, and the writer's sessions/s.
Limits: every subprocess has a timeout; servers are stopped on every exit
path; traffic stays on 127.0.0.1.
Results: $BUILD/bench/store.json. Exit: 0 ok, 1 a run failed or could not
run, 2 the bar was missed.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from benchlib import HOST, SMTP_SOURCE, BenchError, build_dir, log, ratio, tool_versions
from macro import SCENARIOS, Spamsink, fmt, measure, summarize

BAR = 0.9


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenario", action="append", choices=["conn", "msg"], help="default: conn and msg")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--scale", type=float, default=1.0, help="multiply macro.py's message counts")
    p.add_argument("--fill-sessions", type=int, default=1_000_000, help="sessions for the size figure (0: skip)")
    p.add_argument("--run-timeout", type=float, default=180)
    p.add_argument("--max-seconds", type=float, default=1500)
    p.add_argument("--json", help="default $BUILD/bench/store.json")
    args = p.parse_args(argv)
    if not 1 <= args.runs <= 50 or not 0 < args.scale <= 10:
        p.error("--runs 1..50, --scale (0, 10]")
    scenarios = args.scenario or ["conn", "msg"]
    build = build_dir()
    binary = os.path.join(build, "bin", "spamsink")
    fill = os.path.join(build, "bin", "store_fill")
    for path in (binary, fill, SMTP_SOURCE):
        if not os.access(path, os.X_OK):
            log(f"store_bench: {path} not found or not executable")
            return 1
    json_path = args.json or os.path.join(build, "bench", "store.json")
    deadline = time.monotonic() + args.max_seconds
    tmp = tempfile.mkdtemp(prefix="spamsink-store-bench-")
    db = os.path.join(tmp, "on.db")
    on = Spamsink(tmp, binary, 1, extra=["--db", db], name="db-on")
    none = Spamsink(tmp, binary, 1, extra=["--db", "none"], name="db-none")
    servers = [on, none]
    failed = False
    sent_to_on = 0
    results = {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "runs": args.runs, "scale": args.scale, "cpus": os.cpu_count(), "versions": tool_versions(),
               "servers": {}, "scenarios": {}, "bar": BAR}
    try:
        for s in servers:
            s.start()
            results["servers"][s.name] = {"argv": s.argv}
            log(f"store_bench: {s.label} pid {s.pid} on {HOST}:{s.port}")
        for scen in scenarios:
            sc = SCENARIOS[scen]
            per = {s.name: [] for s in servers}
            for i in range(args.runs):
                for s in servers:
                    r = measure(s, scen, sc, args, deadline, tmp)
                    per[s.name].append(r)
                    if s is on and r["exit"] == 0:
                        sent_to_on += r["messages"]
                    log("store_bench: %-4s run %d/%d %-8s %8s msg/s %9s msg/CPU-s srv %.2fs %s" % (
                        scen, i + 1, args.runs, s.name, fmt(r["msg_per_s"], ",.0f"), fmt(r["msg_per_cpu_s"], ",.0f"),
                        r["server_cpu_s"], "ok" if r["ok"] else "FAILED: " + "; ".join(r["errors"])))
                    failed |= not r["ok"]
            med = {n: summarize(runs) for n, runs in per.items()}
            rc = ratio(med["db-on"]["msg_per_cpu_s"], med["db-none"]["msg_per_cpu_s"])
            rs = ratio(med["db-on"]["msg_per_s"], med["db-none"]["msg_per_s"])
            results["scenarios"][scen] = {"what": sc["what"], "servers": {n: {"runs": per[n], "median": med[n]}
                                                                          for n in per},
                                          "ratio_msg_per_cpu_s": rc, "ratio_msg_per_s": rs,
                                          "result": "NO DATA" if rc is None else ("PASS" if rc >= BAR else "FAIL")}
        # Nothing lost: stop the db-on server cleanly and read its database.
        on.stop()
        log_text = open(on.log_path, "rb").read().decode("utf-8", "replace")
        m = re.search(r"event=store_stopped .*?events_dropped=(\d+) events_lost=(\d+) store_errors=(\d+)", log_text)
        st = subprocess.run([binary, "stats", "--json", "--db", db], capture_output=True, text=True, timeout=60)
        stored = json.loads(st.stdout)["messages"] if st.returncode == 0 else None
        results["nothing_lost"] = {"sent": sent_to_on, "stored": stored,
                                   "events_dropped": int(m.group(1)) if m else None,
                                   "events_lost": int(m.group(2)) if m else None,
                                   "store_errors": int(m.group(3)) if m else None,
                                   "db_bytes": os.path.getsize(db)}
        if stored != sent_to_on:
            log(f"store_bench: db-on stored {stored} messages, {sent_to_on} were sent")
            failed = True

        if args.fill_sessions > 0:
            timeout = max(60, deadline - time.monotonic())
            fp = subprocess.run([fill, "--sessions", str(args.fill_sessions), "--db", os.path.join(tmp, "fill.db")],
                                capture_output=True, text=True, timeout=timeout)
            if fp.returncode != 0:
                log(f"store_bench: store_fill failed: {fp.stderr}")
                failed = True
            else:
                results["size"] = json.loads(fp.stdout)

        os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
        with open(json_path, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
        print("store: spamsink --threads 1, --db FILE against --db none (medians of %d runs)" % args.runs)
        print("%-5s %12s %12s %8s %12s %12s %8s  bar %.1fx" % ("scen", "on msg/CPU-s", "none", "ratio", "on msg/s",
                                                               "none", "ratio", BAR))
        for scen, r in results["scenarios"].items():
            a, b = r["servers"]["db-on"]["median"], r["servers"]["db-none"]["median"]
            print("%-5s %12s %12s %8s %12s %12s %8s  %s" % (
                scen, fmt(a["msg_per_cpu_s"], ",.0f"), fmt(b["msg_per_cpu_s"], ",.0f"),
                fmt(r["ratio_msg_per_cpu_s"], ".2f"), fmt(a["msg_per_s"], ",.0f"), fmt(b["msg_per_s"], ",.0f"),
                fmt(r["ratio_msg_per_s"], ".2f"), r["result"]))
        nl = results["nothing_lost"]
        print("nothing lost: sent %s, stored %s, dropped %s, lost %s, store errors %s" % (
            nl["sent"], nl["stored"], nl["events_dropped"], nl["events_lost"], nl["store_errors"]))
        if "size" in results:
            z = results["size"]
            print("size: %d sessions (1 message each): %.0f bytes/session = %.0f MB per million sessions; "
                  "writer %.0f sessions/s" % (z["sessions"], z["bytes_per_session"], z["bytes_per_session"],
                                              z["sessions_per_s"]))
        print(f"results: {json_path}")
        if failed:
            return 1
        if any(r["result"] != "PASS" for r in results["scenarios"].values()):
            return 2
        return 0
    except (BenchError, subprocess.TimeoutExpired) as e:
        log(f"store_bench: error: {e}")
        return 1
    finally:
        for s in servers:
            s.stop()
        if failed:
            log(f"store_bench: logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
