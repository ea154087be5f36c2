#!/usr/bin/env bash
# bench/tarpit_hold.sh: memory and CPU per held connection, spamsink's tarpit
# against Debian's endlessh (when installed), in the same run.
#
# N connections (default 15000) from 127.0.0.2-9 with TCP_MAXSEG 1460
# (smtpsend --hold --mss 1460), held for HOLD seconds (default 75). Reports
# the server's RSS before, at 10 s and at 70 s, (RSS - before) / N, open
# descriptors, and the server's CPU between 10 s and 70 s as a share of one
# core. BUILD gives the build directory (default build). Bounded: smtpsend
# has --hold-time and a timeout; the servers are killed on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$here/../$BUILD ;; esac
N=${N:-15000}
HOLD=${HOLD:-75}
T2=${T2:-60}  # seconds between the two samples (10 s and 10 + T2 s)
binds=""; for i in 2 3 4 5 6 7 8 9; do binds="$binds --bind 127.0.0.$i"; done

rss() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)

measure() {  # name pid port
  local name=$1 pid=$2 port=$3
  sleep 1
  local before; before=$(rss "$pid")
  timeout $((HOLD + 60)) "$BUILD/bin/smtpsend" -p "$port" --hold "$N" --hold-time "$HOLD" --mss 1460 $binds \
    --threads 2 --timeout 30 --json > "$tmp/$name.json" 2>&1 &
  local client=$!
  sleep 10
  local r10; r10=$(rss "$pid"); local c10; c10=$(cpu "$pid")
  local f10; f10=$(ls "/proc/$pid/fd" | wc -l)
  sleep "$T2"
  local r70; r70=$(rss "$pid"); local c70; c70=$(cpu "$pid")
  wait "$client" || true
  local held; held=$(python3 -c "import json;print(json.load(open('$tmp/$name.json'))['hold']['held'])" 2>/dev/null || echo "?")
  awk -v n="$name" -v b="$before" -v r10="$r10" -v r70="$r70" -v f="$f10" -v c="$((c70 - c10))" -v t="$tck" \
      -v N="$N" -v h="$held" -v t2="$T2" 'BEGIN {
    printf "%-10s held %s of %d; RSS before %d KB, at 10 s %d KB (%.0f B/conn), at %d s %d KB (%.0f B/conn); fds %d; CPU between %.1f%% of a core\n",
      n, h, N, b, r10, (r10 - b) * 1024 / N, 10 + t2, r70, (r70 - b) * 1024 / N, f, 100 * c / t / t2 }'
}

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

"$BUILD/bin/spamsink" --tarpit 127.0.0.1:2902 --threads 1 --max-conns $((N + 1000)) \
  --greet-delay 0 2> "$tmp/spamsink.log" &
pids+=($!)
measure spamsink "${pids[-1]}" 2902
kill "${pids[-1]}"

if command -v endlessh > /dev/null; then
  # One line per second, as spamsink drips one byte per second.
  endlessh -p 2901 -m $((N + 1000)) -d 1000 &
  pids+=($!)
  measure endlessh "${pids[-1]}" 2901
else
  echo "endlessh: not installed (apt-get install endlessh to compare)"
fi
