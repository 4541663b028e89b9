#!/usr/bin/env bash
# Run the whole test suite (as root: it starts daemons, mounts overlays, makes namespaces).
#   scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pytest ] || scripts/install.sh --deps
.venv/bin/ruff check src tests
exec .venv/bin/pytest -q -p no:cacheprovider "$@" tests
