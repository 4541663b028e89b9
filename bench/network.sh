#!/usr/bin/env bash
# Networking figures, Dockyard side by side with a private dockerd (when it starts).
#   bench/network.sh [MB] [REQUESTS] [CONTAINERS]      (root)
# 1. container-to-container TCP throughput over a user bridge: one HTTP download of MB
#    megabytes (busybox httpd from a tmpfs -> wget), timed inside the client container
#    from /proc/uptime, so container start-up is not counted
# 2. host -> published port on 127.0.0.1: HTTP requests per second against busybox httpd,
#    bounded load (REQUESTS requests, 4 concurrent clients, keep-alive off, loopback only)
# 3. time to create a user network, run CONTAINERS attached containers, remove them and it
# Each engine runs on its own socket, data root, bridge names and 10.x subnets; nothing
# is sent anywhere but loopback and the bridges made here. The peer dockerd runs with
# --iptables=false (its docker-proxy serves published ports) so it never touches the
# host's shared iptables chains.
set -euo pipefail
mb=${1:-200}
requests=${2:-2000}
count=${3:-20}
repo=$(cd "$(dirname "$0")/.." && pwd)
py=$repo/.venv/bin/python
work=$(mktemp -d /tmp/dy-netbench.XXXXXX)
tag=$(printf '%04x' $((RANDOM % 65536)))
a=$((100 + RANDOM % 150))
pids=()
cleanup() {
  for sock in "$work"/dy.sock "$work"/peer.sock; do
    [ -S "$sock" ] || continue
    ids=$(docker -H "unix://$sock" ps -aq 2>/dev/null || true)
    [ -n "$ids" ] && docker -H "unix://$sock" rm -f $ids >/dev/null 2>&1 || true
    for n in $(docker -H "unix://$sock" network ls -q --filter type=custom 2>/dev/null); do
      docker -H "unix://$sock" network rm "$n" >/dev/null 2>&1 || true
    done
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
  grep " $work" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  ip link del "dy$tag" 2>/dev/null || true
  ip link del "dp$tag" 2>/dev/null || true
  iptables -w -D FORWARD -i "dt$tag" -o "dt$tag" -j ACCEPT 2>/dev/null || true
  ip link del "dt$tag" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$repo/scripts/make-busybox-rootfs.sh" --tar "$work/bb.tar" >/dev/null

start_engine() {  # name -> exports H
  local name=$1 sock
  if [ "$name" = dockyard ]; then
    sock=$work/dy.sock
    "$repo/.venv/bin/dockyardd" --data-root "$work/dy" --exec-root "$work/dyx" -H "unix://$sock" \
      --pidfile "$work/dy.pid" --bridge "dy$tag" --bip "10.$a.250.1/24" \
      --default-address-pool "base=10.$a.0.0/17,size=24" >"$work/dy.log" 2>&1 &
  else
    sock=$work/peer.sock
    dockerd -H "unix://$sock" --data-root "$work/peer" --exec-root "$work/peerx" \
      --pidfile "$work/peer.pid" --bridge none --iptables=false --ip-masq=false \
      --default-address-pool "base=10.$a.128.0/17,size=24" >"$work/peer.log" 2>&1 &
  fi
  pids+=($!)
  for _ in $(seq 100); do docker -H "unix://$sock" version >/dev/null 2>&1 && break; sleep 0.1; done
  docker -H "unix://$sock" version >/dev/null 2>&1 || return 1
  docker -H "unix://$sock" import -c 'CMD ["sh"]' \
    -c "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    "$work/bb.tar" busybox:latest >/dev/null
  H="unix://$sock"
}

throughput() {  # MB/s of one HTTP download between two containers on a user network
  local d="docker -H $H" ip out i
  local br="dt$tag"
  $d network create -o "com.docker.network.bridge.name=$br" bnet >/dev/null
  # The host's FORWARD policy may be DROP (any dockerd with iptables sets it); the peer
  # runs --iptables=false, so let its bridge forward to itself while it is measured.
  [ "$eng" = dockerd ] && iptables -w -I FORWARD -i "$br" -o "$br" -j ACCEPT
  $d run -d --name sink --network bnet --tmpfs "/w:size=$((mb + 16))m" busybox sh -c \
    "dd if=/dev/zero of=/w/.big bs=1048576 count=$mb 2>/dev/null && mv /w/.big /w/big && httpd -f -p 80 -h /w" >/dev/null
  ip=$($d inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' sink)
  for i in $(seq 100); do $d exec sink test -f /w/big 2>/dev/null && break; sleep 0.2; done
  sleep 0.3
  # -O /dev/null: busybox wc on a pipe is slower than the network (~60 MB/s)
  out=$($d run --rm --network bnet busybox sh -c "read s _ </proc/uptime; wget -qO /dev/null http://$ip/big && read e _ </proc/uptime && echo ok \$s \$e" 2>&1 || true)
  $d rm -f sink >/dev/null
  $d network rm bnet >/dev/null
  [ "$eng" = dockerd ] && iptables -w -D FORWARD -i "$br" -o "$br" -j ACCEPT
  echo "$out" | awk -v mb="$mb" '$1 == "ok" && $3 > $2 {printf "%.0f MB/s", mb / ($3 - $2); ok=1} END {if (!ok) printf "failed"}'
  [[ "$out" == ok* ]] || echo "throughput run failed: $out" >&2
}

rps() {  # requests/s to a published port on 127.0.0.1
  local d="docker -H $H" port
  port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  $d network create pnet >/dev/null
  $d run -d --name web --network pnet -p "127.0.0.1:$port:80" busybox httpd -f -p 80 -h /etc >/dev/null
  "$py" - "$port" "$requests" <<'PY'
import http.client, sys, time
from concurrent.futures import ThreadPoolExecutor
port, n = int(sys.argv[1]), int(sys.argv[2])
def one(_):
    for _ in range(50):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/hostname")
            ok = c.getresponse().read()
            c.close()
            return bool(ok)
        except OSError:
            time.sleep(0.05)
    return False
one(0)
s = time.perf_counter()
with ThreadPoolExecutor(4) as ex:
    good = sum(ex.map(one, range(n)))
e = time.perf_counter()
print(f"{good / (e - s):.0f} req/s ({good}/{n} ok)", end="")
PY
  $d rm -f web >/dev/null
  $d network rm pnet >/dev/null
}

fanout() {  # create network + COUNT attached containers, remove all: seconds
  local d="docker -H $H" s e i
  s=$(date +%s%N)
  $d network create fnet >/dev/null
  for i in $(seq "$count"); do $d run -d --name "f$i" --network fnet busybox sleep 300 >/dev/null; done
  $d rm -f $(seq -f 'f%g' "$count") >/dev/null
  $d network rm fnet >/dev/null
  e=$(date +%s%N)
  awk -v ns=$((e - s)) 'BEGIN {printf "%.2f s", ns / 1e9}'
}

declare -A res
engines=(dockyard dockerd)
for eng in "${engines[@]}"; do
  if ! command -v dockerd >/dev/null && [ "$eng" = dockerd ]; then continue; fi
  if ! start_engine "$eng"; then
    echo "($eng did not start; see its log)" >&2
    continue
  fi
  res[$eng,tp]=$(throughput)
  res[$eng,rps]=$(rps)
  res[$eng,fan]=$(fanout)
done
printf '%-44s %-22s %-22s\n' "" dockyard "dockerd (peer)"
printf '%-44s %-22s %-22s\n' "container->container TCP, ${mb} MB (wget)" "${res[dockyard,tp]:-n/a}" "${res[dockerd,tp]:-n/a}"
printf '%-44s %-22s %-22s\n' "host->127.0.0.1 published port, ${requests} GETs" "${res[dockyard,rps]:-n/a}" "${res[dockerd,rps]:-n/a}"
printf '%-44s %-22s %-22s\n' "network + ${count} containers create/rm" "${res[dockyard,fan]:-n/a}" "${res[dockerd,fan]:-n/a}"
# cross-host: container to container over an overlay vs the underlying link, on 2 test
# hosts (network namespaces), Dockyard and dockerd swarm mode (bench/overlay.py)
"$py" "$repo/bench/overlay.py" "$mb"
