#!/usr/bin/env bash
# Density: time to start N `busybox sleep 3600` containers sequentially and from 8
# parallel clients (official docker CLI), and the engine's memory per running container
# (PSS of the daemon and every per-container process it keeps: dockyardd + monitors;
# dockerd + containerd + shims), side by side with Debian's dockerd when installed.
#   bench/density.sh [N]      (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
T=$(mktemp -d /tmp/dydensity.XXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
  pkill -9 -f "$T" 2>/dev/null || true
  grep " $T" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
scripts/make-busybox-rootfs.sh --tar "$T/busybox.tar"

pss_kb() { # sum of PSS (kB) over pids
  local sum=0
  for p in "$@"; do
    v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

run_engine() { # label host engine-pids-pattern
  local label=$1 host=$2 pattern=$3
  export DOCKER_HOST=$host DOCKER_CONFIG=$T/cfg
  docker import -c 'CMD ["sh"]' "$T/busybox.tar" busybox:latest >/dev/null
  local base; base=$(pss_kb $(pgrep -f "$pattern" || true))
  s=$(date +%s%N)
  for i in $(seq "$N"); do docker run -d --network none busybox sleep 3600 >/dev/null; done
  e=$(date +%s%N)
  seq_ms=$(( (e - s) / 1000000 ))
  local after; after=$(pss_kb $(pgrep -f "$pattern" || true))
  local ps_ms; ps_ms=$(for _ in 1 2 3 4 5; do
    s=$(date +%s%N); docker ps >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))
  done | sort -n | sed -n 3p)
  docker rm -f $(docker ps -aq) >/dev/null
  s=$(date +%s%N)
  seq "$N" | xargs -P 8 -I{} docker run -d --network none busybox sleep 3600 >/dev/null
  e=$(date +%s%N)
  par_ms=$(( (e - s) / 1000000 ))
  docker rm -f $(docker ps -aq) >/dev/null
  printf '%-10s %4d seq: %6d ms (%5.1f/s)   8 clients: %6d ms (%5.1f/s)   memory: %6.2f MiB PSS per container   docker ps (%d running): %d ms\n' \
    "$label" "$N" "$seq_ms" "$(awk -v n="$N" -v t="$seq_ms" 'BEGIN{print n*1000/t}')" \
    "$par_ms" "$(awk -v n="$N" -v t="$par_ms" 'BEGIN{print n*1000/t}')" \
    "$(awk -v a="$after" -v b="$base" -v n="$N" 'BEGIN{print (a-b)/1024/n}')" "$N" "$ps_ms"
}

.venv/bin/dockyardd --data-root "$T/dy" --exec-root "$T/dyx" -H "unix://$T/dy.sock" \
  --bridge "dyd$(printf '%04x' $(( $$ % 65536 )))" --bip "10.215.$(( $$ % 250 )).1/24" >"$T/dy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$T/dy.sock" ] && break; sleep 0.1; done
run_engine dockyardd "unix://$T/dy.sock" "$T/dy"

if command -v dockerd >/dev/null 2>&1; then
  dockerd -H "unix://$T/peer.sock" --data-root "$T/peer" --exec-root "$T/peerx" \
    --pidfile "$T/peer.pid" --bridge none >"$T/peer.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do [ -S "$T/peer.sock" ] && break; sleep 0.1; done
  run_engine dockerd "unix://$T/peer.sock" "$T/peer"
else
  echo "dockerd: not installed (apt-get install docker.io to compare)"
fi
