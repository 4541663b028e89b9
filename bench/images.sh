#!/usr/bin/env bash
# Layer unpack throughput: Dockyard's apply_layer (Python tarfile + whiteout
# translation + escape checks + sha256 of the stream) vs GNU tar -x, side by
# side in one run, on two ~200 MB layers: many small files, and few large ones.
#   bench/images.sh [SIZE_MB] [RUNS]      (defaults 200, 3; root for owners/devices)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SIZE_MB=${1:-200}
RUNS=${2:-3}
work=$(mktemp -d /var/tmp/dy-bench-images.XXXX)
trap 'rm -rf "$work"' EXIT

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
time_cmd() {  # prints seconds for "$@", after clearing the target
  local t0 t1
  rm -rf "$work/out"; mkdir "$work/out"; sync
  t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
apply_py() {
  "$PY" -c 'import sys
from dockyard.snapshot.apply import apply_layer
with open(sys.argv[1], "rb", buffering=0) as f: apply_layer(sys.argv[2], f)' "$1" "$work/out"
}
gnu_tar() { tar -xf "$1" -C "$work/out" --xattrs --same-owner -p; }
gnu_tar_sha() { sha256sum "$1" >/dev/null & tar -xf "$1" -C "$work/out" --xattrs --same-owner -p; wait; }

printf '%-8s %8s %8s | %12s %12s %14s | %7s\n' layer files MB "GNU tar s" "+sha256 s" "apply_layer s" ratio
for kind in small large; do
  f="$work/$kind.tar"
  mb=$(( $(stat -c %s "$f") >> 20 ))
  files=$(tar -tf "$f" | wc -l)
  cat "$f" >/dev/null  # page cache warm for everyone
  g=$(for _ in $(seq "$RUNS"); do time_cmd gnu_tar "$f"; done | median)
  gs=$(for _ in $(seq "$RUNS"); do time_cmd gnu_tar_sha "$f"; done | median)
  p=$(for _ in $(seq "$RUNS"); do time_cmd apply_py "$f"; done | median)
  printf '%-8s %8d %8d | %12.3f %12.3f %14.3f | %6.2fx\n' "$kind" "$files" "$mb" "$g" "$gs" "$p" "$(echo "$p / $gs" | bc -l)"
done
echo "(ratio = apply_layer / (GNU tar + sha256sum in parallel): apply_layer also hashes the stream for the diff id)"
