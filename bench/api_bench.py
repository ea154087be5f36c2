#!/usr/bin/env python3
"""bench/api_bench.py: the HTTP API's latency with a million hosts.

What it covers (issue 7's API figure, in `make bench`):
  bench/store_fill writes --hosts host rows (default 1,000,000; 1 in 8
  IPv6) into a fresh database; spamsink starts on it (--threads 1, the API
  on 127.0.0.1:0, its address read from `event=started api=...`). After
  --warmup requests, one client on one keep-alive connection sends
  --requests sequential GETs to each route and times each one, request sent
  to body read (urllib/http.client, so the client's own parsing is
  included). Figures: p50, p99 and max in milliseconds for
  /api/v1/stats and /api/v1/hosts?limit=100 (and ?order=sessions, which
  has to sort by something other than the newest), plus the time to stream
  the whole txt blocklist and the daemon's peak RSS (VmHWM) after it.
  Verification: every answer is 200 and parses; hosts pages hold 100
  rows; the blocklist has one line per host.
  There is no peer to compare against (no other program serves this API):
  these are absolute figures for this machine, not ratios.
Limits: every subprocess and request has a timeout; the server is stopped
on every exit path; traffic stays on 127.0.0.1.
Results: $BUILD/bench/api.json. Exit: 0 ok, 1 a run failed or could not run.
"""

import argparse
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from benchlib import BenchError, build_dir, log, tool_versions


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Daemon:
    def __init__(self, binary, db, tmp):
        self.log_path = os.path.join(tmp, "spamsink.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([binary, "--sink", "127.0.0.1:0", "--threads", "1", "--db", db,
                                      "--api", "127.0.0.1:0", "--retain-days", "0", "--retain-sessions", "0",
                                      "--state-dir", os.path.join(tmp, "state")],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        self.api = None
        while time.monotonic() < deadline and self.api is None:
            if self.proc.poll() is not None:
                raise BenchError("spamsink exited %s: %s" % (self.proc.returncode, self.text()))
            m = re.search(r"event=started .*api=([0-9.]+):(\d+)", self.text())
            if m:
                self.api = (m.group(1), int(m.group(2)))
            time.sleep(0.05)
        if self.api is None:
            raise BenchError("spamsink did not start: " + self.text())

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


def timed_gets(conn, path, n):
    """n sequential GETs on one keep-alive connection; returns sorted ms and the last body."""
    times = []
    body = b""
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        times.append((time.perf_counter() - t0) * 1000.0)
        if r.status != 200:
            raise BenchError("%s: HTTP %d: %r" % (path, r.status, body[:300]))
    times.sort()
    return times, body


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hosts", type=int, default=1_000_000)
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--json", help="default $BUILD/bench/api.json")
    args = p.parse_args(argv)
    if not 100 <= args.hosts <= 10_000_000 or not 10 <= args.requests <= 100_000:
        p.error("--hosts 100..10000000, --requests 10..100000")
    build = build_dir()
    binary = os.path.join(build, "bin", "spamsink")
    fill = os.path.join(build, "bin", "store_fill")
    for path in (binary, fill):
        if not os.access(path, os.X_OK):
            log("api_bench: %s missing (build with SPAMSINK_BENCH=ON)" % path)
            return 1
    tmp = tempfile.mkdtemp(prefix="spamsink-api-bench-")
    daemon = None
    try:
        db = os.path.join(tmp, "api.db")
        t0 = time.monotonic()
        f = subprocess.run([fill, "--hosts", str(args.hosts), "--db", db], capture_output=True, text=True,
                           timeout=1800)
        if f.returncode != 0:
            raise BenchError("store_fill failed: " + f.stderr)
        fill_s = time.monotonic() - t0
        log("api_bench: %d host rows written in %.1f s (%s)" % (args.hosts, fill_s, f.stdout.strip()))
        daemon = Daemon(binary, db, tmp)
        conn = http.client.HTTPConnection(daemon.api[0], daemon.api[1], timeout=60)
        results = {}
        routes = [("stats", "/api/v1/stats"), ("hosts_limit_100", "/api/v1/hosts?limit=100"),
                  ("hosts_limit_100_by_sessions", "/api/v1/hosts?limit=100&order=sessions")]
        for name, path in routes:
            timed_gets(conn, path, args.warmup)
            times, body = timed_gets(conn, path, args.requests)
            doc = json.loads(body)
            if name.startswith("hosts") and len(doc["hosts"]) != 100:
                raise BenchError("%s: %d rows, expected 100" % (path, len(doc["hosts"])))
            results[name] = {"path": path, "requests": args.requests, "p50_ms": round(percentile(times, 50), 3),
                             "p99_ms": round(percentile(times, 99), 3), "max_ms": round(times[-1], 3)}
            log("api_bench: %-28s p50 %8.3f ms  p99 %8.3f ms  max %8.3f ms" %
                (path, results[name]["p50_ms"], results[name]["p99_ms"], results[name]["max_ms"]))
        t0 = time.perf_counter()
        conn.request("GET", "/api/v1/blocklist?format=txt")
        r = conn.getresponse()
        lines = 0
        nbytes = 0
        while True:
            chunk = r.read(1 << 16)
            if not chunk:
                break
            nbytes += len(chunk)
            lines += chunk.count(b"\n")
        export_s = time.perf_counter() - t0
        if r.status != 200 or lines != args.hosts:
            raise BenchError("blocklist: HTTP %d, %d lines, expected %d" % (r.status, lines, args.hosts))
        rss = vm_hwm_kb(daemon.proc.pid)
        results["blocklist_txt_all"] = {"path": "/api/v1/blocklist?format=txt", "entries": lines, "bytes": nbytes,
                                        "seconds": round(export_s, 3), "daemon_vm_hwm_kb": rss}
        log("api_bench: blocklist txt, %d entries, %.1f MB in %.2f s; daemon peak RSS %.1f MB" %
            (lines, nbytes / 1e6, export_s, rss / 1024.0))
        conn.close()
        out = {"benchmark": "api_bench", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
               "hosts": args.hosts, "fill_seconds": round(fill_s, 1), "results": results,
               "tools": tool_versions() if callable(tool_versions) else {}}
        path = args.json or os.path.join(build, "bench", "api.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(out, f, indent=2)
        log("api_bench: results in %s" % path)
        return 0
    except (BenchError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as e:
        log("api_bench: FAILED: %s" % e)
        return 1
    finally:
        if daemon is not None:
            daemon.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
