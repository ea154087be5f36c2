#!/usr/bin/env python3
"""bench/hold_by_strategy.py: how long each tarpit strategy holds a client.

For each strategy (drip, banner, stall), in parallel, on its own tarpit
listeners with the defaults (1 s interval, 1 byte per drip, 5 s greet
delay) and `--tarpit-max-hold MAX_HOLD` (default 360 s, longer than
Postfix's 300 s smtp_helo_timeout so that its timers can show):
  - `smtpsend --hold 5 --hold-time MAX_HOLD+30`: a bot that reads what it
    gets and never gives up first;
  - a real Postfix 3.7 (the integration witness's private instance: Debian
    defaults for its smtp client timers) relaying one message to it.
Reports, per strategy: smtpsend's hold time (p50 and max) and how the holds
ended; Postfix's first session on the tarpit (held seconds and how it ended,
from spamsink's session log) and what Postfix logged (status and reason).
Needs root and the postfix package (as the witness test). Bounded: every
wait has a timeout; Postfix instances and daemons are stopped on exit.
Traffic stays on 127.0.0.1.
Usage: BUILD=build python3 bench/hold_by_strategy.py [--max-hold 360]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.environ.get("BUILD", "build")
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)
os.environ["SPAMSINK_BIN"] = os.path.join(BUILD, "bin", "spamsink")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from spamsink_harness import Daemon  # noqa: E402
from test_postfix_witness import Postfix  # noqa: E402

SMTPSEND = os.path.join(BUILD, "bin", "smtpsend")
STRATEGIES = ("drip", "banner", "stall")


class _Owner(unittest.TestCase):
    """Owns the cleanups of the daemons and Postfix instances."""

    def runTest(self):
        pass


def tarpit(owner, strategy, max_hold):
    return Daemon.start(owner, "--tarpit", "127.0.0.1:0", "--tarpit-strategy", strategy, "--tarpit-max-hold",
                        "%ds" % max_hold, sinks=(), listeners=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-hold", type=int, default=360, help="tarpit_max_hold in seconds (default 360)")
    ap.add_argument("--bots", type=int, default=5, help="smtpsend --hold connections per strategy (default 5)")
    ap.add_argument("--strategy", action="append", choices=STRATEGIES,
                    help="only this strategy (repeatable; default all three)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("hold_by_strategy: needs root for the Postfix instances; skipped", file=sys.stderr)
        return 1
    owner = _Owner()
    try:
        runs = {}
        for s in args.strategy or STRATEGIES:
            bots = tarpit(owner, s, args.max_hold)
            mta = tarpit(owner, s, args.max_hold)
            pf = Postfix.start(owner, mta.port)
            qid = pf.submit("hold-" + s)
            cli = subprocess.Popen([SMTPSEND, "-p", str(bots.port), "--hold", str(args.bots), "--hold-time",
                                    str(args.max_hold + 30), "--timeout", "30", "--json", "127.0.0.1"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            runs[s] = (bots, mta, pf, qid, cli)
        limit = args.max_hold + 120
        report = {}
        for s, (bots, mta, pf, qid, cli) in runs.items():
            out, err = cli.communicate(timeout=limit)
            hold = json.loads(out)["hold"]
            deliveries = pf.wait_deliveries(qid, 1, limit)
            if not deliveries:
                # A reply too long for the parser (the banner's hundreds of
                # 220- lines): take the status from the raw log line.
                for line in pf.log_lines():
                    m = re.search(qid + r": to=.*status=(\w+) \((.{0,160})", line)
                    if m:
                        deliveries = [{"status": m.group(1), "reason": m.group(2) + "..."}]
                        break
            first = mta.session_closes(1, timeout=limit)[0]
            report[s] = {
                "smtpsend_held_s_p50": hold["held_us"]["p50"] / 1e6,
                "smtpsend_held_s_max": hold["held_us"]["max"] / 1e6,
                "smtpsend_closed_by_server": hold["closed_by_server"],
                "smtpsend_timed_out": hold["timed_out"],
                "postfix_held_s": int(first["duration_ms"]) / 1000.0,
                "postfix_session_end": first["end"],
                "postfix_phase": first.get("phase", ""),
                "postfix_status": deliveries[0]["status"] if deliveries else "?",
                "postfix_reason": deliveries[0]["reason"] if deliveries else "?",
            }
        print("tarpit hold by strategy (max hold %d s, interval 1 s, 1 B per drip, greet delay 5 s)" % args.max_hold)
        print("%-7s %-28s %-48s %s" % ("", "smtpsend --hold (%d bots)" % args.bots, "Postfix 3.7 smtp client",
                                        "Postfix logged"))
        for s, r in report.items():
            print("%-7s p50 %6.1f s, max %6.1f s (%d closed by us) %6.1f s, ended %-12s in %-10s %s (%s)" % (
                s, r["smtpsend_held_s_p50"], r["smtpsend_held_s_max"], r["smtpsend_closed_by_server"],
                r["postfix_held_s"], r["postfix_session_end"], r["postfix_phase"], r["postfix_status"],
                r["postfix_reason"]))
        os.makedirs(os.path.join(BUILD, "bench"), exist_ok=True)
        with open(os.path.join(BUILD, "bench", "hold_by_strategy.json"), "w") as f:
            json.dump({"max_hold_s": args.max_hold, "strategies": report}, f, indent=1)
        return 0
    finally:
        owner.doCleanups()


if __name__ == "__main__":
    sys.exit(main())
