#!/usr/bin/env bash
# Registry throughput, side by side in one run on loopback:
#   Dockyard:  dockyardd  -> dockyard registry serve
#   Docker:    dockerd 20.10 (Debian, private peer) -> docker-registry 2.8 (Debian)
# Figures: push and pull MB/s of a SIZE_MB image in 5 layers (half random,
# half compressible text, like real images), re-push time of the unchanged
# image, and manifest GETs per second under a bounded load (wrk, 16
# connections, 5 s) against each registry server. Pulls are repeated PULLS
# times, the stacks taking turns, so load from other work hits both alike;
# the median and the load average of each round are printed.
#   [PULLS=5] bench/registry.sh [SIZE_MB]   (default 200; root)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PY=${PY:-.venv/bin/python}
BIN=$REPO/.venv/bin
SIZE_MB=${1:-200}
PULLS=${PULLS:-5}
work=$(mktemp -d /var/tmp/dy-bench-registry.XXXX)
pids=()
cleanup() {
  for f in "$work"/*/registry.pid; do [ -f "$f" ] && pids+=("$(cat "$f")"); done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
  for m in $(awk -v w="$work" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 200); do curl -sf "http://$1/v2/" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "no registry at $1" >&2; exit 1; }
wait_sock() { for _ in $(seq 400); do [ -S "$1" ] && return 0; sleep 0.05; done; echo "no daemon at $1" >&2; exit 1; }
now() { date +%s.%N; }

# --- the image: a docker-archive with 5 layers -----------------------------------------
"$PY" - "$work/image.tar" "$SIZE_MB" <<'PY'
import hashlib, io, json, os, sys, tarfile
out, size_mb = sys.argv[1], int(sys.argv[2])
per = (size_mb << 20) // 5
words = b" ".join(b"lorem%d ipsum dolor sit amet %x" % (i, i * 7919) for i in range(20000))
diff_ids, layer_names = [], []
with tarfile.open(out, "w") as arc:
    for n in range(5):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as lt:
            for f in range(8):
                size = per // 8
                data = os.urandom(size) if f % 2 == 0 else (words * (size // len(words) + 1))[:size]
                ti = tarfile.TarInfo(f"layer{n}/file{f}.bin"); ti.size = len(data); ti.mode = 0o644
                lt.addfile(ti, io.BytesIO(data))
        raw = buf.getvalue()
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        name = f"{diff_ids[-1][7:]}/layer.tar"
        ti = tarfile.TarInfo(name); ti.size = len(raw); arc.addfile(ti, io.BytesIO(raw))
        layer_names.append(name)
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                      "rootfs": {"type": "layers", "diff_ids": diff_ids},
                      "history": [{"created_by": f"layer {i}"} for i in range(5)]}).encode()
    cname = hashlib.sha256(cfg).hexdigest() + ".json"
    ti = tarfile.TarInfo(cname); ti.size = len(cfg); arc.addfile(ti, io.BytesIO(cfg))
    man = json.dumps([{"Config": cname, "RepoTags": ["bench:latest"], "Layers": layer_names}]).encode()
    ti = tarfile.TarInfo("manifest.json"); ti.size = len(man); arc.addfile(ti, io.BytesIO(man))
PY
bytes=$(( SIZE_MB << 20 ))

# --- registries ----------------------------------------------------------------------------
start_registry() {  # kind dir -> prints addr, records pid
  local kind=$1 dir=$2 port
  port=$(free_port); mkdir -p "$dir"
  cat > "$dir/config.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}
http: {addr: "127.0.0.1:$port"}
YML
  if [ "$kind" = dockyard ]; then
    "$BIN/dockyard-registry" serve "$dir/config.yml" --log-level warning >"$dir/log" 2>&1 &
  else
    docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  fi
  echo $! > "$dir/registry.pid"  # (a $(...) subshell: the pid goes through a file)
  wait_http "127.0.0.1:$port"
  echo "127.0.0.1:$port"
}

# --- daemons ---------------------------------------------------------------------------------
d1=$work/dy; mkdir -p "$d1"
"$BIN/dockyardd" --data-root "$d1/data" --exec-root "$d1/exec" -H "unix://$d1/d.sock" \
  --pidfile "$d1/d.pid" --bridge dybench0 --bip 10.231.77.1/24 >"$d1/log" 2>&1 &
pids+=($!)
d2=$work/peer; mkdir -p "$d2"
dockerd -H "unix://$d2/peer.sock" --data-root "$d2/data" --exec-root "$d2/x" --pidfile "$d2/peer.pid" \
  --bridge none --iptables=false --ip-masq=false --insecure-registry 127.0.0.0/8 >"$d2/log" 2>&1 &
pids+=($!)
wait_sock "$d1/d.sock"; wait_sock "$d2/peer.sock"
DY="docker -H unix://$d1/d.sock"
PEER="docker -H unix://$d2/peer.sock"
$DY load -i "$work/image.tar" >/dev/null
$PEER load -i "$work/image.tar" >/dev/null

push_stack() {  # label client registry_addr: push, re-push; leaves the image as $addr/bench/img:1
  local label=$1 cli=$2 addr=$3 ref t0 t1 t2
  ref="$addr/bench/img:1"
  $cli tag bench:latest "$ref"
  t0=$(now); $cli push "$ref" >/dev/null; t1=$(now)
  $cli push "$ref" >/dev/null; t2=$(now)
  printf "%-34s push %6.1f MB/s   re-push %5.2f s\n" "$label" \
    "$(echo "$bytes / 1048576 / ($t1 - $t0)" | bc -l)" "$(echo "$t2 - $t1" | bc -l)"
}

pull_once() {  # client registry_addr -> prints MB/s of a pull into an empty store
  local cli=$1 ref="$2/bench/img:1" t0 t1
  $cli rmi -f "$($cli image inspect -f '{{.Id}}' bench:latest)" >/dev/null  # every name: no layer left
  t0=$(now); $cli pull "$ref" >/dev/null; t1=$(now)
  $cli tag "$ref" bench:latest
  echo "$bytes / 1048576 / ($t1 - $t0)" | bc -l
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "image: ${SIZE_MB} MB uncompressed, 5 layers (half random, half text); $PULLS pull rounds, interleaved"
ours=$(start_registry dockyard "$work/reg-ours")
theirs=$(start_registry distribution "$work/reg-dist")
theirs2=$(start_registry distribution "$work/reg-dist2")
push_stack "dockyardd -> dockyard registry" "$DY" "$ours"
push_stack "dockerd   -> docker-registry" "$PEER" "$theirs"
push_stack "dockyardd -> docker-registry" "$DY" "$theirs2"
a=() b=() c=() ratios=()
for i in $(seq "$PULLS"); do
  a+=("$(pull_once "$DY" "$ours")")
  b+=("$(pull_once "$PEER" "$theirs")")
  c+=("$(pull_once "$DY" "$theirs2")")
  ratios+=("$(echo "${a[-1]} / ${b[-1]}" | bc -l)")
  printf "  pull round %d: %6.1f  %6.1f  %6.1f MB/s  (%.2fx; load %s)\n" "$i" "${a[-1]}" "${b[-1]}" \
    "${c[-1]}" "${ratios[-1]}" "$(cut -d' ' -f1-3 /proc/loadavg)"
done
for row in "dockyardd -> dockyard registry:${a[*]}" "dockerd   -> docker-registry:${b[*]}" \
  "dockyardd -> docker-registry:${c[*]}"; do
  printf "%-34s pull %6.1f MB/s (median of %d)\n" "${row%%:*}" "$(median <<<"${row#*:}")" "$PULLS"
done
printf "%-34s %.2fx (median of per-round ratios; min %.2f)\n" "pull dockyardd/dockerd" \
  "$(median <<<"${ratios[*]}")" "$(tr ' ' '\n' <<<"${ratios[*]}" | sort -g | head -1)"

# --- manifest GETs per second ---------------------------------------------------------------
if command -v wrk >/dev/null; then
  for pair in "dockyard registry:$ours" "docker-registry:$theirs"; do
    label=${pair%%:*}; addr=${pair#*:}
    out=$(wrk -t2 -c16 -d5s -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
      "http://$addr/v2/bench/img/manifests/1")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    printf "%-34s manifest GET %8.0f req/s (wrk -t2 -c16 -d5s)%s\n" "$label" "$rps" \
      "${bad:+  ($bad non-2xx answers!)}"
  done
else
  echo "wrk not installed: manifest GETs/s skipped (apt-get install wrk)"
fi
