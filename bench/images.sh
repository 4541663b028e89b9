#!/usr/bin/env bash
# Layer unpack throughput: Dockyard's apply_layer (Python tarfile + whiteout
# translation + escape checks + sha256 of the stream) vs GNU tar -x, side by
# side in one run, on two ~200 MB layers: many small files, and few large ones.
# Then `docker load` of each as a one-layer image archive into a private
# dockyardd and, when installed, a private peer dockerd (overlay2).
#   bench/images.sh [SIZE_MB] [RUNS]      (defaults 200, 3; root for owners/devices)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SIZE_MB=${1:-200}
RUNS=${2:-3}
work=$(mktemp -d /var/tmp/dy-bench-images.XXXX)
pids=()
cleanup() {
  set +e  # (a grep finding no mount must not end the clean-up before the rm)
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  grep -F "$work" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$PY" - "$work" "$SIZE_MB" <<'PY'
import io, os, sys, tarfile
work, size_mb = sys.argv[1], int(sys.argv[2])
total = size_mb << 20
def layer(path, sizes):
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        blob = os.urandom(max(sizes))
        for i, n in enumerate(sizes):
            d = f"usr/lib/d{i // 500:04d}"
            if i % 500 == 0:
                ti = tarfile.TarInfo(d); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; tf.addfile(ti)
            ti = tarfile.TarInfo(f"{d}/f{i:06d}"); ti.size = n; ti.mode = 0o644
            tf.addfile(ti, io.BytesIO(blob[:n]))
layer(f"{work}/small.tar", [4096] * (total // 4096))        # many small files
layer(f"{work}/large.tar", [total // 4] * 4)                # few large files
PY

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Each run extracts into a fresh directory and nothing is deleted until the end:
# on ext4 without a journal (this machine's root) every file created within a
# minute or more of a mass deletion pays a kernel scan over the recently deleted
# inodes (recently_deleted() in find_inode_bit: ~0.4 ms per create measured with
# perf), which made the figures measure the bench's own rm -rf, not the tools.
time_cmd() {  # prints seconds for "$@", extracting into a fresh $out
  local t0 t1
  out=$(mktemp -d "$work/out.XXXX"); sync
  t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
apply_py() {
  "$PY" -c 'import sys
from dockyard.snapshot.apply import apply_layer
with open(sys.argv[1], "rb", buffering=0) as f: apply_layer(sys.argv[2], f)' "$1" "$out"
}
gnu_tar() { tar -xf "$1" -C "$out" --xattrs --same-owner -p; }
gnu_tar_sha() { sha256sum "$1" >/dev/null & tar -xf "$1" -C "$out" --xattrs --same-owner -p; wait; }

printf '%-8s %8s %8s | %12s %12s %14s | %7s | %9s %9s\n' layer files MB "GNU tar s" "+sha256 s" "apply_layer s" ratio "our MB/s" "files/s"
for kind in small large; do
  f="$work/$kind.tar"
  mb=$(( $(stat -c %s "$f") >> 20 ))
  files=$(tar -tf "$f" | wc -l)
  cat "$f" >/dev/null  # page cache warm for everyone
  g=$(for _ in $(seq "$RUNS"); do time_cmd gnu_tar "$f"; done | median)
  gs=$(for _ in $(seq "$RUNS"); do time_cmd gnu_tar_sha "$f"; done | median)
  p=$(for _ in $(seq "$RUNS"); do time_cmd apply_py "$f"; done | median)
  printf '%-8s %8d %8d | %12.3f %12.3f %14.3f | %6.2fx | %9.1f %9.0f\n' "$kind" "$files" "$mb" "$g" "$gs" "$p" \
    "$(echo "$p / $gs" | bc -l)" "$(echo "$mb / $p" | bc -l)" "$(echo "$files / $p" | bc -l)"
  printf '%-8s %8s %8s   GNU tar: %.2fx, %.1f MB/s, %.0f files/s\n' "" "" "" "$(echo "$p / $g" | bc -l)" \
    "$(echo "$mb / $g" | bc -l)" "$(echo "$files / $g" | bc -l)"
done
echo "(ratio = apply_layer / (GNU tar + sha256sum in parallel): apply_layer also hashes the stream for the diff id)"

# -- docker load of the same layers, one image each --------------------------------
"$PY" - "$work" <<'PY'
import hashlib, io, json, sys, tarfile
work = sys.argv[1]
for kind in ("small", "large"):
    layer = f"{work}/{kind}.tar"
    h = hashlib.sha256()
    with open(layer, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    diff = h.hexdigest()
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff]}}).encode()
    cname = "blobs/sha256/" + hashlib.sha256(cfg).hexdigest()
    manifest = [{"Config": cname, "RepoTags": [f"bench/{kind}:latest"], "Layers": ["blobs/sha256/" + diff]}]
    with tarfile.open(f"{work}/{kind}-image.tar", "w") as tf:
        tf.add(layer, "blobs/sha256/" + diff)
        for name, data in [(cname, cfg), ("manifest.json", json.dumps(manifest).encode())]:
            ti = tarfile.TarInfo(name); ti.size = len(data); tf.addfile(ti, io.BytesIO(data))
PY
wait_sock() { for _ in $(seq 1 300); do [ -S "$1" ] && docker -H "unix://$1" version >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no daemon on $1" >&2; exit 1; }
BIN=$(dirname "$PY")
mkdir -p "$work/dy"
"$BIN/dockyardd" --data-root "$work/dy/data" --exec-root "$work/dy/exec" -H "unix://$work/dy/d.sock" \
  --pidfile "$work/dy/pid" >"$work/dy/log" 2>&1 &
pids+=($!)
wait_sock "$work/dy/d.sock"
hosts=("dockyardd=unix://$work/dy/d.sock")
if command -v dockerd >/dev/null; then
  mkdir -p "$work/peer"
  dockerd -H "unix://$work/peer/d.sock" --data-root "$work/peer/data" --exec-root "$work/peer/x" \
    --pidfile "$work/peer/pid" --iptables=false --ip-forward=false --bridge=none >"$work/peer/log" 2>&1 &
  pids+=($!)
  wait_sock "$work/peer/d.sock"
  hosts+=("dockerd=unix://$work/peer/d.sock")
fi
load_s() {  # seconds for one docker load into $1 of image $2, removed again afterwards
  local t0 t1
  sync; t0=$(date +%s.%N)
  docker -H "$1" load -q -i "$work/$2-image.tar" >/dev/null
  t1=$(date +%s.%N)
  docker -H "$1" rmi -f "bench/$2:latest" >/dev/null
  echo "$t1 - $t0" | bc -l
}
echo
printf '%-10s %-8s %8s %8s | %10s %9s %9s\n' daemon layer files MB "load s" "MB/s" "files/s"
for kind in small large; do
  mb=$(( $(stat -c %s "$work/$kind.tar") >> 20 ))
  files=$(tar -tf "$work/$kind.tar" | wc -l)
  for h in "${hosts[@]}"; do
    t=$(for _ in $(seq "$RUNS"); do load_s "${h#*=}" "$kind"; done | median)
    printf '%-10s %-8s %8d %8d | %10.3f %9.1f %9.0f\n' "${h%%=*}" "$kind" "$files" "$mb" "$t" \
      "$(echo "$mb / $t" | bc -l)" "$(echo "$files / $t" | bc -l)"
  done
done
