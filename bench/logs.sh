#!/usr/bin/env bash
# json-file log speed: wall time of a detached container writing MB megabytes of
# newline-heavy stdout (`yes 0123456789 | head -c`, 11-byte lines) until `docker wait`
# returns, on dockyardd and a real dockerd (Debian's docker.io) side by side, each on
# its own temp data root and socket. Then checks `docker logs` of a small mixed
# workload is byte-identical between the two.
#   bench/logs.sh [MB] [runs]     (default 1024 MB, 1 run; the best run is printed)
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-1024}
RUNS=${2:-1}
T=$(mktemp -d /tmp/dylogs.XXXX)
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

WORK="yes 0123456789 | head -c $((MB * 1024 * 1024))"
# mixed: long lines, a partial last line, quotes, backslashes, tabs, UTF-8, stderr
MIXED='i=0; while [ $i -lt 300 ]; do echo "line $i \"q\" \\ back	tab é ü €"; echo "err $i" >&2; i=$((i+1)); done; head -c 40000 /dev/zero | tr "\0" x; echo; printf "no newline at end"'

best() { sort -n | head -1; }
measure() { # host : ms from `docker run -d` to `docker wait` returning, best of RUNS
  local host=$1
  for _ in $(seq "$RUNS"); do
    s=$(date +%s%N)
    id=$(DOCKER_HOST=$host DOCKER_CONFIG=$T/cfg docker run -d busybox sh -c "$WORK")
    DOCKER_HOST=$host DOCKER_CONFIG=$T/cfg docker wait "$id" >/dev/null
    e=$(date +%s%N)
    DOCKER_HOST=$host DOCKER_CONFIG=$T/cfg docker rm -f "$id" >/dev/null
    echo $(( (e - s) / 1000000 ))
  done | best
}
logs_of_mixed() { # host out : `docker logs` (stdout and stderr apart) of the mixed workload
  local host=$1 out=$2
  id=$(DOCKER_HOST=$host DOCKER_CONFIG=$T/cfg docker run -d busybox sh -c "$MIXED")
  DOCKER_HOST=$host DOCKER_CONFIG=$T/cfg docker wait "$id" >/dev/null
  DOCKER_HOST=$host DOCKER_CONFIG=$T/cfg docker logs "$id" >"$out.out" 2>"$out.err"
  DOCKER_HOST=$host DOCKER_CONFIG=$T/cfg docker rm -f "$id" >/dev/null
}

.venv/bin/dockyardd --data-root "$T/dy" --exec-root "$T/dyx" -H "unix://$T/dy.sock" >"$T/dy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$T/dy.sock" ] && break; sleep 0.1; done
DOCKER_HOST=unix://$T/dy.sock DOCKER_CONFIG=$T/cfg docker import -c 'CMD ["sh"]' "$T/busybox.tar" busybox:latest >/dev/null
dy=$(measure "unix://$T/dy.sock")
logs_of_mixed "unix://$T/dy.sock" "$T/dy-mixed"

if command -v dockerd >/dev/null 2>&1; then
  dockerd -H "unix://$T/peer.sock" --data-root "$T/peer" --exec-root "$T/peerx" \
    --pidfile "$T/peer.pid" --bridge none >"$T/peer.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do [ -S "$T/peer.sock" ] && break; sleep 0.1; done
  DOCKER_HOST=unix://$T/peer.sock DOCKER_CONFIG=$T/cfg docker import -c 'CMD ["sh"]' "$T/busybox.tar" busybox:latest >/dev/null
  pd=$(measure "unix://$T/peer.sock")
  logs_of_mixed "unix://$T/peer.sock" "$T/pd-mixed"
  if cmp -s "$T/dy-mixed.out" "$T/pd-mixed.out" && cmp -s "$T/dy-mixed.err" "$T/pd-mixed.err"; then
    same="byte-identical"
  else
    same="DIFFERENT"
  fi
else
  echo "dockerd: not installed (apt-get install docker.io to compare)"
  pd=-; same="-"
fi
printf '%-46s %10s %10s %8s\n' "best of $RUNS (ms)" dockyardd dockerd ratio
printf '%-46s %10s %10s %8s\n' "json-file log, ${MB} MB of 11-byte lines" "$dy" "$pd" \
  "$(awk -v a="$dy" -v b="$pd" 'BEGIN {if (b > 0) printf "%.2f", a/b; else print "-"}')"
echo "docker logs of a mixed workload (stdout, stderr): $same"
