#!/usr/bin/env bash
# runc vs dockyard-runtime on the same busybox `true` bundle, side by side, in one run.
#   bench/runtime.sh [RUNS]     (root; uses hyperfine if installed, else a date +%s%N loop)
# Prints the median wall time of `run` and of create+start+delete for each runtime,
# and of dockyard-runtime started without the console-script wrapper (which imports re).
set -euo pipefail
runs=${1:-30}
repo=$(cd "$(dirname "$0")/.." && pwd)
py=$repo/.venv/bin/python
dy=$repo/.venv/bin/dockyard-runtime
runc=$(command -v runc || echo /usr/sbin/runc)
# The benchmark measures a deployed install: byte-compiled, bytecode cache readable.
unset PYTHONDONTWRITEBYTECODE
"$py" -m compileall -q "$repo/src/dockyard" >/dev/null

work=$(mktemp -d /tmp/dy-bench.XXXXXX)
cleanup() {
  for r in "$work"/root-*; do
    [ -d "$r" ] || continue
    for id in $(ls "$r"); do "$runc" --root "$r" delete -f "$id" >/dev/null 2>&1 || "$dy" --root "$r" delete -f "$id" >/dev/null 2>&1 || true; done
  done
  rm -rf "$work"
}
trap cleanup EXIT
"$repo/scripts/make-busybox-rootfs.sh" "$work/bundle/rootfs" >/dev/null
"$dy" spec --bundle "$work/bundle"
"$py" - "$work/bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
json.dump(c, open(path, "w"), indent=1)
PY
# the same bundle as dockyardd runs it: Docker's capabilities and default seccomp profile
mkdir "$work/bundle-seccomp"
"$py" - "$work/bundle/config.json" "$work/bundle-seccomp/config.json" <<'PY'
import json, sys
from dockyard.daemon.services.ocispec import DEFAULT_CAPS
from dockyard.runtime.seccomp_profile import default_profile, to_oci
c = json.load(open(sys.argv[1]))
c["root"]["path"] = sys.argv[1].rsplit("/", 1)[0] + "/rootfs"
c["process"]["capabilities"] = {k: DEFAULT_CAPS for k in ("bounding", "effective", "permitted")}
c["linux"]["seccomp"] = to_oci(default_profile(), DEFAULT_CAPS)
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
bundle_dir=$work/bundle
direct="$py -c 'import sys; from dockyard.runtime.cli import main; sys.exit(main())'"
declare -A cmd=(
  [runc]="$runc"
  [dockyard]="$dy"
  [dockyard-direct]="$direct"
)
order=(runc dockyard dockyard-direct)

median_ms() {  # median of a list of nanosecond figures, in ms
  sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1e6}'
}

loop() {  # loop NAME KIND -> median ms, without hyperfine
  local name=$1 kind=$2 c=${cmd[$1]} root="$work/root-$1" i s e
  mkdir -p "$root"
  for ((i = 0; i < runs; i++)); do
    s=$(date +%s%N)
    if [ "$kind" = run ]; then
      eval "$c --root $root run --bundle $bundle_dir b$i" </dev/null
    else
      eval "$c --root $root create --bundle $bundle_dir c$i" </dev/null >/dev/null
      eval "$c --root $root start c$i"
      eval "$c --root $root delete -f c$i"
    fi
    e=$(date +%s%N)
    echo $((e - s))
  done | median_ms
}

hf() {  # hf NAME KIND -> median ms with hyperfine
  local name=$1 kind=$2 c=${cmd[$1]} root="$work/root-$1" script
  mkdir -p "$root"
  script="$work/$name-$kind.sh"
  if [ "$kind" = run ]; then
    printf 'exec %s --root %s run --bundle %s "b$$" </dev/null\n' "$c" "$root" "$bundle_dir" >"$script"
  else
    printf '%s --root %s create --bundle %s "c$$" </dev/null >/dev/null && %s --root %s start "c$$" && %s --root %s delete -f "c$$"\n' \
      "$c" "$root" "$bundle_dir" "$c" "$root" "$c" "$root" >"$script"
  fi
  hyperfine -N -w 3 -r "$runs" --export-json "$work/$name-$kind.json" "bash $script" >/dev/null
  "$py" -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$work/$name-$kind.json"
}

measure=loop
command -v hyperfine >/dev/null && measure=hf
bash_ms=0
if [ $measure = hf ]; then
  hyperfine -N -w 3 -r "$runs" --export-json "$work/bash.json" "bash -c true" >/dev/null
  bash_ms=$("$py" -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$work/bash.json")
fi
printf '%-18s %12s %24s   (median ms over %d runs, %s; bash start-up %s ms included in hyperfine figures)\n' \
  runtime run create+start+delete "$runs" "$measure" "$bash_ms"
for name in "${order[@]}"; do
  printf '%-18s %12s %24s\n' "$name" "$($measure "$name" run)" "$($measure "$name" lifecycle)"
done
echo "with Docker's default seccomp profile and capabilities (what dockyardd runs):"
bundle_dir=$work/bundle-seccomp
for name in runc dockyard; do
  printf '%-18s %12s %24s\n' "$name" "$($measure "$name" run)" "$($measure "$name" lifecycle)"
done
