#!/usr/bin/env bash
# runc vs dockyard-runtime on the same busybox `true` bundle, side by side, in one run.
#   bench/runtime.sh [RUNS]     (root; uses hyperfine if installed, else a date +%s%N loop)
# Prints the median wall time of `run` and of create+start+delete for each runtime, and
# with hyperfine the CPU time (user+sys, mean) after a slash: steadier on a loaded machine.
# dockyard-direct starts without the console-script wrapper (which imports re);
# dockyard-inproc is how the monitor runs it: fork a warm process and call cli.main.
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
  "$py" -c 'import json,sys; r = json.load(open(sys.argv[1]))["results"][0]; print("%.1f / %.1f" % (r["median"] * 1000, (r["user"] + r["system"]) * 1000))' "$work/$name-$kind.json"
}

# fork + call, as the monitor's zygote does (its children import nothing)
cat >"$work/inproc.py" <<'PY'
import gc, os, statistics, sys, time
from dockyard.runtime import cli, container
root, bundle, runs, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
getattr(container, "preload", lambda: None)()  # (older trees: PYTHONPATH=their src)
gc.freeze()
os.makedirs(root, exist_ok=True)
null = os.open(os.devnull, os.O_RDWR)
def call(*args):
    pid = os.fork()
    if pid == 0:
        os.dup2(null, 0)
        os.dup2(null, 1)
        os._exit(cli.main(["--root", root, *args]) or 0)
    _, status = os.waitpid(pid, 0)
    assert status == 0, (args, status)
from dockyard.runtime.syscalls import PR_SET_CHILD_SUBREAPER, LinuxSyscall
LinuxSyscall().prctl(PR_SET_CHILD_SUBREAPER, 1)  # the init reparents to us, as to a monitor
walls, cpus = [], []
for i in range(runs + 3):
    before = os.times()
    t = time.perf_counter()
    if kind == "run":
        call("run", "--bundle", bundle, f"i{i}")
    else:
        call("create", "--bundle", bundle, f"i{i}")
        call("start", f"i{i}")
        os.waitpid(container.load_state(root, f"i{i}").pid, 0)  # the init, reaped as a monitor does
        call("delete", "-f", f"i{i}")
    after = os.times()
    if i >= 3:  # warm-up, as hyperfine -w 3
        walls.append(time.perf_counter() - t)
        cpus.append(after.children_user + after.children_system - before.children_user - before.children_system)
print("%.1f / %.1f" % (statistics.median(walls) * 1000, statistics.mean(cpus) * 1000))
PY
inproc() {  # inproc KIND -> median wall / mean cpu ms
  "$py" "$work/inproc.py" "$work/root-inproc" "$bundle_dir" "$runs" "$1"
}

measure=loop
command -v hyperfine >/dev/null && measure=hf
bash_ms=0
if [ $measure = hf ]; then
  hyperfine -N -w 3 -r "$runs" --export-json "$work/bash.json" "bash -c true" >/dev/null
  bash_ms=$("$py" -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$work/bash.json")
fi
printf '%-18s %14s %24s   (ms over %d runs, %s; bash start-up %s ms included in hyperfine figures; load %s)\n' \
  runtime run create+start+delete "$runs" "$measure" "$bash_ms" "$(cut -d' ' -f1 /proc/loadavg)"
for name in "${order[@]}"; do
  printf '%-18s %14s %24s\n' "$name" "$($measure "$name" run)" "$($measure "$name" lifecycle)"
done
printf '%-18s %14s %24s\n' dockyard-inproc "$(inproc run)" "$(inproc lifecycle)"
echo "with Docker's default seccomp profile and capabilities (what dockyardd runs):"
bundle_dir=$work/bundle-seccomp
for name in runc dockyard; do
  printf '%-18s %14s %24s\n' "$name" "$($measure "$name" run)" "$($measure "$name" lifecycle)"
done
printf '%-18s %14s %24s\n' dockyard-inproc "$(inproc run)" "$(inproc lifecycle)"
