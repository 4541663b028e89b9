#!/usr/bin/env bash
# Test hosts for swarm mode: N dockyardd daemons, each in its own network namespace
# (own data root, exec root, socket, pid file), joined by veths to a bridge in the root
# namespace; 10.x addresses exist inside the namespaces only.
#   scripts/cluster.sh up N [DIR]   prints each host's namespace, address and DOCKER_HOST
#   scripts/cluster.sh down [DIR]   stops daemons, etcd members and containers; removes
#                                   mounts, namespaces, veths and the bridge
# DIR defaults to /tmp/dockyard-cluster. The logic lives in tests/integration/swarm/hosts.py,
# which the tests use too.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
exec "$here/.venv/bin/python" -m tests.integration.swarm.hosts "$@"
