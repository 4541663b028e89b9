#!/usr/bin/env bash
# Compose speed: `up -d` of a 10-service app cold (networks, volume, containers
# created and started), `up -d` again with nothing changed (the no-op converge),
# and `down`, through Dockyard's compose (`dockyard compose`, and `docker compose`
# via our plugin when the docker CLI finds it) against docker-compose v1 (Debian's
# 1.29), all against the same private dockyardd (its own socket, data root,
# bridge and 10.x subnets; nothing sent beyond them). Medians of RUNS.
#   bench/compose.sh [RUNS]        (default 3; needs root)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
BIN=$REPO/.venv/bin
RUNS=${1:-3}
work=$(mktemp -d /tmp/dy-bench-compose.XXXX)
tag=$(printf '%04x' $((RANDOM % 65536)))
a=$((100 + RANDOM % 150))
while ip -4 route | grep -q "^10\.$a\."; do a=$((100 + RANDOM % 150)); done  # a 10.a/16 no one routes
dy_pid=""
cleanup() {
  if [ -n "$dy_pid" ]; then
    for p in $(docker -H "unix://$work/d.sock" ps -aq 2>/dev/null); do docker -H "unix://$work/d.sock" rm -f "$p" >/dev/null 2>&1 || true; done
    kill "$dy_pid" 2>/dev/null && while kill -0 "$dy_pid" 2>/dev/null; do sleep 0.1; done
  fi
  grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  ip link del "dyc$tag" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$REPO/scripts/make-busybox-rootfs.sh" --tar "$work/busybox.tar" >/dev/null
# byte-compiled as install.sh leaves it (PYTHONDONTWRITEBYTECODE is set on these machines)
"$BIN/python" -m compileall -q src >/dev/null
"$BIN/dockyardd" --data-root "$work/data" --exec-root "$work/exec" -H "unix://$work/d.sock" \
  --pidfile "$work/pid" --bridge "dyc$tag" --bip "10.$a.250.1/24" \
  --default-address-pool "base=10.$a.0.0/17,size=24" >"$work/log" 2>&1 &
dy_pid=$!
up=""
for _ in $(seq 1 600); do [ -S "$work/d.sock" ] && docker -H "unix://$work/d.sock" version >/dev/null 2>&1 && { up=1; break; }; sleep 0.1; done
[ -n "$up" ] || { echo "dockyardd did not start:" >&2; tail -20 "$work/log" >&2; exit 1; }
export DOCKER_HOST="unix://$work/d.sock" DOCKYARD_HOST="unix://$work/d.sock" COMPOSE_PROGRESS=quiet
docker import -c 'CMD ["sh"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$work/busybox.tar" busybox:latest >/dev/null

# -- the app: 10 services on the default network, one named volume, a dependency chain
mkdir -p "$work/app"
{
  echo "version: \"3.8\""
  echo "services:"
  for i in $(seq 0 9); do
    echo "  s$i:"
    echo "    image: busybox"
    echo "    command: [\"sleep\", \"100000\"]"
    echo "    stop_signal: SIGKILL"
    echo "    environment: [INDEX=$i]"
    echo "    volumes: [\"data:/data\"]"
    [ "$i" -gt 0 ] && echo "    depends_on: [s$((i - 1))]"
  done
  echo "volumes:"
  echo "  data: {}"
} > "$work/app/compose.yaml"

# the docker CLI plugin, as install.sh places it, but private to this run
mkdir -p "$work/docker-config/cli-plugins"
ln -s "$BIN/dockyard-compose-plugin" "$work/docker-config/cli-plugins/docker-compose"
echo "{\"cliPluginsExtraDirs\": [\"$work/docker-config/cli-plugins\"]}" > "$work/docker-config/config.json"
export DOCKER_CONFIG=$work/docker-config

now() { date +%s.%N; }
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
declare -A result
tools=("dockyard-compose:$BIN/dockyard compose" "docker-compose-v1:docker-compose")
docker compose version >/dev/null 2>&1 && tools+=("docker-compose-plugin:docker compose")
for entry in "${tools[@]}"; do
  name=${entry%%:*}; cmd=${entry#*:}
  for phase in cold noop down; do : > "$work/$name.$phase"; done
  for run in $(seq 1 "$RUNS"); do
    p="b${run}${name//-/}"
    cd "$work/app"
    t0=$(now); $cmd -p "$p" up -d >/dev/null 2>&1; t1=$(now)
    [ "$(docker ps -q --filter "label=com.docker.compose.project=$p" | wc -l)" = 10 ] || { echo "$name: up did not start 10 containers" >&2; exit 1; }
    $cmd -p "$p" up -d >/dev/null 2>&1; t2=$(now)
    $cmd -p "$p" down -v >/dev/null 2>&1; t3=$(now)
    [ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$p")" ] || { echo "$name: down left containers" >&2; exit 1; }
    echo "$t1 - $t0" | bc >> "$work/$name.cold"
    echo "$t2 - $t1" | bc >> "$work/$name.noop"
    echo "$t3 - $t2" | bc >> "$work/$name.down"
  done
  for phase in cold noop down; do result[$name.$phase]=$(median < "$work/$name.$phase"); done
done

printf '\n10-service app against one dockyardd, median of %s runs (seconds)\n' "$RUNS"
printf '%-24s %10s %10s %10s\n' tool "up (cold)" "up (no-op)" down
for entry in "${tools[@]}"; do
  name=${entry%%:*}
  printf '%-24s %10.2f %10.2f %10.2f\n' "$name" "${result[$name.cold]}" "${result[$name.noop]}" "${result[$name.down]}"
done
v1=docker-compose-v1; ours=dockyard-compose
printf '\nv1 / ours: cold %.1fx, no-op %.1fx, down %.1fx\n' \
  "$(echo "${result[$v1.cold]} / ${result[$ours.cold]}" | bc -l)" \
  "$(echo "${result[$v1.noop]} / ${result[$ours.noop]}" | bc -l)" \
  "$(echo "${result[$v1.down]} / ${result[$ours.down]}" | bc -l)"
