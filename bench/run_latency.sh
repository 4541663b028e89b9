#!/usr/bin/env bash
# Median wall times, through the official docker CLI, of `docker run --rm busybox true`
# (default bridge and --network none) and of `docker run -d` + `docker rm -f`, against
# dockyardd and a real dockerd (Debian's docker.io) when one is installed, side by side.
# Each engine runs on its own temp data root, socket and bridge (never docker0 or
# dockyard0: another engine on this machine may own those).
#   bench/run_latency.sh [runs]     (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-20}
T=$(mktemp -d /tmp/dybench.XXXX)
pids=()
tag=$(printf '%04x' $(( $$ % 65536 )))
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
  pkill -9 -f "$T" 2>/dev/null || true  # monitor hosts outlive their daemon
  grep " $T" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  ip link del "dpl$tag" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
scripts/make-busybox-rootfs.sh --tar "$T/busybox.tar"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # host args... : `docker run --rm ARGS busybox true`
  local host=$1; shift
  DOCKER_HOST=$host DOCKER_CONFIG=$T/cfg docker run --rm "$@" busybox true >/dev/null  # warm-up
  for _ in $(seq "$RUNS"); do
    s=$(date +%s%N); DOCKER_HOST=$host DOCKER_CONFIG=$T/cfg docker run --rm "$@" busybox true >/dev/null; e=$(date +%s%N)
    echo $(( (e - s) / 1000000 ))
  done | median
}
measure_drm() { # host : `docker run -d busybox sleep 60` then `docker rm -f` of it
  local host=$1
  for _ in $(seq "$RUNS"); do
    s=$(date +%s%N)
    id=$(DOCKER_HOST=$host DOCKER_CONFIG=$T/cfg docker run -d busybox sleep 60)
    DOCKER_HOST=$host DOCKER_CONFIG=$T/cfg docker rm -f "$id" >/dev/null
    e=$(date +%s%N)
    echo $(( (e - s) / 1000000 ))
  done | median
}
engine() { # label host : its three figures, in the same order as `rows`
  measure "$2"; measure "$2" --network none; measure_drm "$2"
}
rows=("docker run --rm true (bridge)" "docker run --rm true (--network none)" "docker run -d + docker rm -f")

.venv/bin/dockyardd --data-root "$T/dy" --exec-root "$T/dyx" -H "unix://$T/dy.sock" \
  --bridge "dyl$tag" --bip "10.213.$(( $$ % 250 )).1/24" >"$T/dy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$T/dy.sock" ] && break; sleep 0.1; done
DOCKER_HOST=unix://$T/dy.sock DOCKER_CONFIG=$T/cfg docker import -c 'CMD ["sh"]' "$T/busybox.tar" busybox:latest >/dev/null
mapfile -t dy < <(engine dockyardd "unix://$T/dy.sock")

if command -v dockerd >/dev/null 2>&1; then
  ip link add "dpl$tag" type bridge
  ip addr add "10.214.$(( $$ % 250 )).1/24" dev "dpl$tag"
  ip link set "dpl$tag" up
  dockerd -H "unix://$T/peer.sock" --data-root "$T/peer" --exec-root "$T/peerx" \
    --pidfile "$T/peer.pid" --bridge "dpl$tag" >"$T/peer.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do [ -S "$T/peer.sock" ] && break; sleep 0.1; done
  DOCKER_HOST=unix://$T/peer.sock DOCKER_CONFIG=$T/cfg docker import -c 'CMD ["sh"]' "$T/busybox.tar" busybox:latest >/dev/null
  mapfile -t pd < <(engine dockerd "unix://$T/peer.sock")
else
  echo "dockerd: not installed (apt-get install docker.io to compare)"
  pd=(- - -)
fi
printf '%-40s %10s %10s %8s\n' "median of $RUNS (ms)" dockyardd dockerd ratio
for i in 0 1 2; do
  printf '%-40s %10s %10s %8s\n' "${rows[$i]}" "${dy[$i]}" "${pd[$i]}" \
    "$(awk -v a="${dy[$i]}" -v b="${pd[$i]}" 'BEGIN {if (b > 0) printf "%.2f", a/b; else print "-"}')"
done
