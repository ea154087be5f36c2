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
# Kernel memory, system wide, in KB: the slab caches a TCP socket uses
# (socket, inode, file, dentry, epoll item; from /proc/slabinfo, root only,
# active objects x object size) plus the pages TCP holds for socket
# buffers (/proc/net/sockstat). Both ends of every held connection live on
# this host and cost the same objects, so the per-socket figure halves the
# delta. Without /proc/slabinfo it falls back to meminfo's Slab (noisier).
kmem() {
  local slab
  if [ -r /proc/slabinfo ]; then
    slab=$(awk '$1 ~ /^(TCP|TCPv6|sock_inode_cache|filp|dentry|eventpoll_epi|eventpoll_pwq)$/ {s += $2 * $4}
                END {printf "%d", s / 1024}' /proc/slabinfo)
  else
    slab=$(awk '/^Slab:/{print $2}' /proc/meminfo)
  fi
  echo $((slab + $(awk '/^TCP:/{print $NF}' /proc/net/sockstat) * 4))
}
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)

measure() {  # name pid port
  local name=$1 pid=$2 port=$3
  sleep 1
  local before; before=$(rss "$pid"); local kbefore; kbefore=$(kmem)
  timeout $((HOLD + 60)) "$BUILD/bin/smtpsend" -p "$port" --hold "$N" --hold-time "$HOLD" --mss 1460 $binds \
    --threads 2 --timeout 30 --json > "$tmp/$name.json" 2>&1 &
  local client=$!
  sleep 10
  local r10; r10=$(rss "$pid"); local c10; c10=$(cpu "$pid"); local k10; k10=$(kmem)
  local f10; f10=$(ls "/proc/$pid/fd" | wc -l)
  sleep "$T2"
  local r70; r70=$(rss "$pid"); local c70; c70=$(cpu "$pid"); local k70; k70=$(kmem)
  wait "$client" || true
  # held: connected and greeted; stayed: still open when --hold-time ended.
  local held; held=$(python3 -c "import json;h=json.load(open('$tmp/$name.json'))['hold'];print(h['held'],'(stayed to the end:',str(h['timed_out'])+', closed by server:',str(h['closed_by_server'])+')')" 2>/dev/null || echo "?")
  awk -v n="$name" -v b="$before" -v r10="$r10" -v r70="$r70" -v f="$f10" -v c="$((c70 - c10))" -v t="$tck" \
      -v N="$N" -v h="$held" -v t2="$T2" -v kb="$kbefore" -v k10="$k10" -v k70="$k70" 'BEGIN {
    printf "%-10s held %s of %d; RSS before %d KB, at 10 s %d KB (%.0f B/conn), at %d s %d KB (%.0f B/conn); fds %d; CPU between %.1f%% of a core\n",
      n, h, N, b, r10, (r10 - b) * 1024 / N, 10 + t2, r70, (r70 - b) * 1024 / N, f, 100 * c / t / t2
    printf "%-10s kernel (slab + TCP buffers, per socket, both ends local so halved): at 10 s %.0f B, at %d s %.0f B\n",
      n, (k10 - kb) * 1024 / (2 * N), 10 + t2, (k70 - kb) * 1024 / (2 * N) }'
}

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

# The cap leaves N under the 90% high-water mark, so no client is shed.
"$BUILD/bin/spamsink" --tarpit 127.0.0.1:2902 --threads 1 --max-conns $((N * 100 / 90 + 1000)) \
  --greet-delay 0 --state-dir "$tmp/state" --api 127.0.0.1:0 2> "$tmp/spamsink.log" &
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

if command -v smtp-sink > /dev/null; then
  # Postfix smtp-sink greets at once and then waits for commands (100 s
  # command timeout by default): what a plain MTA costs per idle client.
  user_opt=""; [ "$(id -u)" -eq 0 ] && user_opt="-u nobody"
  (ulimit -n $((N + 1000)) 2> /dev/null || ulimit -n "$(ulimit -Hn)"; exec smtp-sink $user_opt -m $((N + 100)) 127.0.0.1:2903 4096) &
  pids+=($!)
  measure smtp-sink "${pids[-1]}" 2903
fi
