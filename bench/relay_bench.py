#!/usr/bin/env python3
"""bench/relay_bench.py: relay mode against sink mode, same binary, same run.

What it measures: messages per server CPU-second (and messages/s) of
spamsink --threads 1 as a sink, as a relay that never forwards (the
default relay_threshold 0: the domain list, the relay-test rule and the
own-address matcher over each body's first 64 KiB), and as a relay with
forwarding on (relay_threshold 1 to a local spamsink sink: every message
then also takes the shared gate's mutex at DATA; the one new host, the
client on 127.0.0.1, gets one forward). Load: Postfix smtp-source with
macro.py's conn and msg scenarios, runs interleaved server by server so
that noise on this shared machine hits all alike. Each run is verified the
way macro.py does it (smtp-source exits 0, the server's totals counted
every message). Ratios are medians, relay / sink.
Limits: every subprocess has a timeout, the whole run a time budget;
servers are killed on every exit path; traffic stays on 127.0.0.1.
Exit status: 0 all runs verified; 1 otherwise.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

from benchlib import HOST, SMTP_SOURCE, BenchError, build_dir, log, ratio
from macro import SCENARIOS, Spamsink, fmt, interleave, median


class Variant(Spamsink):
    def __init__(self, tmp, binary, name, label, listener_flag, extra=()):
        # Its state (database, certificate) in the bench's temp dir, not var/.
        super().__init__(tmp, binary, 1, extra=["--state-dir", os.path.join(tmp, name + "-state")] + list(extra),
                         name=name, listener_flag=listener_flag)
        self.label = label


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenario", action="append", choices=["conn", "msg"])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--scale", type=float, default=0.5)
    p.add_argument("--run-timeout", type=float, default=180)
    p.add_argument("--max-seconds", type=float, default=900)
    args = p.parse_args(argv)
    scenarios = args.scenario or ["conn", "msg"]
    binary = os.path.join(build_dir(), "bin", "spamsink")
    if not os.access(SMTP_SOURCE, os.X_OK) or not os.access(binary, os.X_OK):
        log("relay_bench: smtp-source or spamsink missing")
        return 1
    deadline = time.monotonic() + args.max_seconds
    tmp = tempfile.mkdtemp(prefix="spamsink-relaybench-")
    servers = []
    failed = False
    try:
        smart = Variant(tmp, binary, "smarthost", "smarthost sink", "--sink")
        smart.start()
        servers = [
            Variant(tmp, binary, "sink", "sink", "--sink"),
            Variant(tmp, binary, "relay", "relay (threshold 0)", "--relay"),
            Variant(tmp, binary, "relay-fwd", "relay (threshold 1)", "--relay",
                    ["--relay-threshold", "1", "--relay-smarthost", f"{HOST}:{smart.port}"]),
        ]
        for s in servers:
            s.start()
        for scen in scenarios:
            sc = SCENARIOS[scen]
            per, bad = interleave(servers, scen, args, deadline, tmp, "relay_bench")
            failed |= bad
            base_cpu = median([r["msg_per_cpu_s"] for r in per["sink"] if r["ok"]])
            base_rate = median([r["msg_per_s"] for r in per["sink"] if r["ok"]])
            print(f"{scen} ({sc['what']}, scale {args.scale}, {args.runs} runs, medians):")
            for s in servers:
                cpu = median([r["msg_per_cpu_s"] for r in per[s.name] if r["ok"]])
                rate = median([r["msg_per_s"] for r in per[s.name] if r["ok"]])
                print("  %-22s %9s msg/CPU-s (%s of sink)  %8s msg/s (%s of sink)" % (
                    s.label, fmt(cpu, ",.0f"), fmt(ratio(cpu, base_cpu), ".2f"), fmt(rate, ",.0f"),
                    fmt(ratio(rate, base_rate), ".2f")))
        return 1 if failed else 0
    except BenchError as e:
        log(f"relay_bench: {e}")
        return 1
    finally:
        for s in servers + ([smart] if "smart" in locals() else []):
            try:
                s.stop()
            except Exception:
                pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
