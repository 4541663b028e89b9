#!/usr/bin/env bash
# Run the whole test suite (as root: it starts daemons, mounts overlays, makes namespaces).
#   scripts/test.sh [pytest args]
#   scripts/test.sh --count N [pytest args]   run it N times in a row (to hunt flaky tests):
#                                             each run's result and duration, then a summary
set -euo pipefail
cd "$(dirname "$0")/.."
count=1
if [ "${1:-}" = "--count" ]; then count=${2:?--count needs a number}; shift 2; fi
[ -x .venv/bin/pytest ] || scripts/install.sh --deps
.venv/bin/ruff check src tests
if [ "$count" = 1 ]; then
  exec .venv/bin/pytest -q -p no:cacheprovider "$@" tests
fi
failed=0
summary=()
for i in $(seq "$count"); do
  start=$(date +%s)
  log=$(mktemp /tmp/dockyard-test-run-XXXXXX.log)
  if .venv/bin/pytest -q -p no:cacheprovider -rf "$@" tests >"$log" 2>&1; then status=passed; else status=FAILED; failed=$((failed + 1)); fi
  line="run $i/$count: $status in $(( $(date +%s) - start )) s: $(tail -n 1 "$log") (log: $log)"
  echo "$line"
  grep '^FAILED ' "$log" || true
  summary+=("$line")
done
printf '%s\n' "${summary[@]}"
echo "$((count - failed)) of $count runs passed"
[ "$failed" = 0 ]
