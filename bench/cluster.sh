#!/usr/bin/env bash
# Swarm mode on 3 test hosts, Dockyard and Docker's dockerd side by side in one run:
# create R replicas, scale to 2R, start-first rolling update (parallelism P), node loss.
#   bench/cluster.sh [R] [P]      (defaults 30, 2; needs root, etcd; dockerd optional)
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python bench/cluster.py "$@"
