#!/usr/bin/env bash
# Median wall time of `docker run --rm busybox true` (the official docker CLI) against
# dockyardd, and against a real dockerd (Debian's docker.io) when one is installed,
# side by side in one run. Each engine runs on its own temp data root and socket.
#   bench/run_latency.sh [runs]     (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-20}
T=$(mktemp -d /tmp/dybench.XXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
  pkill -9 -f "$T" 2>/dev/null || true  # monitor hosts outlive their daemon
  grep " $T" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
scripts/make-busybox-rootfs.sh --tar "$T/busybox.tar"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # host label args...
  local host=$1; shift
  DOCKER_HOST=$host DOCKER_CONFIG=$T/cfg docker run --rm "$@" busybox true >/dev/null  # warm-up
  for _ in $(seq "$RUNS"); do
    s=$(date +%s%N); DOCKER_HOST=$host DOCKER_CONFIG=$T/cfg docker run --rm "$@" busybox true >/dev/null; e=$(date +%s%N)
    echo $(( (e - s) / 1000000 ))
  done | median
}

.venv/bin/dockyardd --data-root "$T/dy" --exec-root "$T/dyx" -H "unix://$T/dy.sock" >"$T/dy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$T/dy.sock" ] && break; sleep 0.1; done
DOCKER_HOST=unix://$T/dy.sock DOCKER_CONFIG=$T/cfg docker import -c 'CMD ["sh"]' "$T/busybox.tar" busybox:latest >/dev/null
dy=$(measure "unix://$T/dy.sock")
printf '%-34s %6s ms\n' "dockyardd (docker run --rm true)" "$dy"

if command -v dockerd >/dev/null 2>&1; then
  dockerd -H "unix://$T/peer.sock" --data-root "$T/peer" --exec-root "$T/peerx" \
    --pidfile "$T/peer.pid" >"$T/peer.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do [ -S "$T/peer.sock" ] && break; sleep 0.1; done
  DOCKER_HOST=unix://$T/peer.sock DOCKER_CONFIG=$T/cfg docker import -c 'CMD ["sh"]' "$T/busybox.tar" busybox:latest >/dev/null
  for net in bridge none; do
    pd=$(measure "unix://$T/peer.sock" --network "$net")
    printf '%-34s %6s ms   dockyard/dockerd = %s\n' "dockerd --network $net" "$pd" \
      "$(awk -v a="$dy" -v b="$pd" 'BEGIN {printf "%.2f", a/b}')"
  done
else
  echo "dockerd: not installed (apt-get install docker.io to compare)"
fi
