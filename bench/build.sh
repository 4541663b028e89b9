#!/usr/bin/env bash
# Build speed: a 12-step Dockerfile with a ~50 MB context, built cold, rebuilt
# with nothing changed (every step from cache) and rebuilt with one copied file
# changed, through the official CLI's legacy builder (DOCKER_BUILDKIT=0) and
# through `dockyard build`, against a private dockyardd and, when dockerd is
# installed, side by side with a private peer dockerd's legacy builder. RUN
# steps have a bridge network on both (the legacy builder's default): each
# daemon its own bridge and 10.x subnet, nothing sent beyond them.
#   bench/build.sh [CONTEXT_MB] [RUNS]        (defaults 50, 3; needs root)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
BIN=$REPO/.venv/bin
SIZE_MB=${1:-50}
RUNS=${2:-3}
work=$(mktemp -d /tmp/dy-bench-build.XXXX)
tag=$(printf '%04x' $((RANDOM % 65536)))
a=$((100 + RANDOM % 150))
while ip -4 route | grep -q "^10\.$a\."; do a=$((100 + RANDOM % 150)); done  # a 10.a/16 no one routes
dy_pid="" peer_pid=""
cleanup() {
  [ -n "$dy_pid" ] && kill "$dy_pid" 2>/dev/null && while kill -0 "$dy_pid" 2>/dev/null; do sleep 0.1; done
  [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null && while kill -0 "$peer_pid" 2>/dev/null; do sleep 0.1; done
  grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  ip link del "dyb$tag" 2>/dev/null || true
  ip link del "dpb$tag" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# -- the project: 12 steps, ~SIZE_MB of context in 200 files + one small file
ctx=$work/ctx
mkdir -p "$ctx/data" "$ctx/src"
for i in $(seq 1 200); do head -c $((SIZE_MB * 1024 * 1024 / 200)) /dev/urandom > "$ctx/data/blob$i"; done
echo "v1" > "$ctx/src/app.txt"
cat > "$ctx/Dockerfile" <<'EOF'
FROM busybox
ARG VERSION=1
ENV APP=/app
WORKDIR /app
LABEL bench=build
COPY data /app/data
RUN ls /app/data | wc -l > /app/count
COPY src/app.txt /app/app.txt
RUN cat /app/app.txt > /app/out
EXPOSE 8080
USER nobody
CMD ["cat", "/app/out"]
EOF
"$REPO/scripts/make-busybox-rootfs.sh" --tar "$work/busybox.tar" >/dev/null

wait_sock() { for _ in $(seq 1 300); do [ -S "$1" ] && docker -H "unix://$1" version >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no daemon on $1" >&2; exit 1; }

mkdir -p "$work/dy"
"$BIN/dockyardd" --data-root "$work/dy/data" --exec-root "$work/dy/exec" -H "unix://$work/dy/d.sock" \
  --pidfile "$work/dy/pid" --bridge "dyb$tag" --bip "10.$a.250.1/24" \
  --default-address-pool "base=10.$a.0.0/17,size=24" >"$work/dy/log" 2>&1 &
dy_pid=$!
wait_sock "$work/dy/d.sock"
hosts=("dockyard=unix://$work/dy/d.sock")
if command -v dockerd >/dev/null; then
  mkdir -p "$work/peer"
  ip link add "dpb$tag" type bridge && ip addr add "10.$a.251.1/24" dev "dpb$tag" && ip link set "dpb$tag" up
  dockerd -H "unix://$work/peer/d.sock" --data-root "$work/peer/data" --exec-root "$work/peer/x" \
    --pidfile "$work/peer/pid" --iptables=false --ip-forward=false --bridge "dpb$tag" \
    --default-address-pool "base=10.$a.128.0/18,size=24" >"$work/peer/log" 2>&1 &
  peer_pid=$!
  wait_sock "$work/peer/d.sock"
  hosts+=("dockerd=unix://$work/peer/d.sock")
fi
for h in "${hosts[@]}"; do
  docker -H "${h#*=}" import -c 'CMD ["sh"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$work/busybox.tar" busybox:latest >/dev/null
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() {  # milliseconds of "$@"
  local t0 t1
  t0=$(date +%s%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
legacy() { DOCKER_BUILDKIT=0 docker -H "$1" build -q "${@:2}" -t bench:latest "$ctx"; }
ours() { DOCKYARD_HOST="$1" "$BIN/dockyard" build -q "${@:2}" -t bench:latest "$ctx"; }

# runs interleave the daemons and clients, so a load change on this shared
# machine hits every combination alike; medians per combination
combos=()
for h in "${hosts[@]}"; do
  combos+=("$h legacy")
  [ "${h%%=*}" = dockyard ] && combos+=("$h ours")
done
declare -A cold noop changed
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$RUNS"); do
  for c in "${combos[@]}"; do
    h=${c% *} client=${c#* }
    host=${h#*=}
    echo "v1" > "$ctx/src/app.txt"
    cold[$c]+="$(ms $client "$host" --no-cache) "
    noop[$c]+="$(ms $client "$host") "
    echo "v$r-changed" > "$ctx/src/app.txt"
    changed[$c]+="$(ms $client "$host") "
  done
done
printf '%-9s %-16s %10s %10s %14s\n' daemon client cold_ms noop_ms one_changed_ms
for c in "${combos[@]}"; do
  h=${c% *} client=${c#* }
  label=$client; [ "$client" = legacy ] && label="docker(legacy)"; [ "$client" = ours ] && label="dockyard build"
  printf '%-9s %-16s %10s %10s %14s\n' "${h%%=*}" "$label" \
    "$(printf '%s\n' ${cold[$c]} | median)" "$(printf '%s\n' ${noop[$c]} | median)" \
    "$(printf '%s\n' ${changed[$c]} | median)"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
