#!/usr/bin/env bash
# Install everything Dockyard needs on a fresh Debian 12 machine (as root), start
# dockyardd, make a busybox:latest image locally and run a container.
#   scripts/install.sh            the whole main job
#   scripts/install.sh --deps     only packages and the venv (what CI and tests need)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }

APT_PACKAGES=(busybox-static runc skopeo iptables iproute2 libseccomp2 uidmap file procps docker-registry umoci docker-compose tini docker.io etcd-server etcd-client)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The project's own venv: pyenv's real interpreter, never the slow shim at run time.
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if command -v pyenv >/dev/null 2>&1; then PY=$(pyenv which python3.11 2>/dev/null || pyenv which python3); fi
  [ -n "$PY" ] || PY=$(command -v python3.11 || command -v python3)
fi
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
# Byte-compile now: with PYTHONDONTWRITEBYTECODE set (as on these machines) every
# start of the CLI, monitor and runtime would otherwise recompile our modules.
.venv/bin/python -m compileall -q src >/dev/null

[ "${1:-}" = "--deps" ] && exit 0

# `docker compose`: our Compose as a plugin of the official docker CLI, where it looks
# for plugins; Debian's docker-compose v1 on PATH (/usr/bin/docker-compose) is left alone.
mkdir -p /usr/local/lib/docker/cli-plugins
ln -sfn "$REPO/.venv/bin/dockyard-compose-plugin" /usr/local/lib/docker/cli-plugins/docker-compose

# Start dockyardd unless one already answers on the default socket.
SOCK=/run/dockyard/dockyard.sock
if ! .venv/bin/dockyard version >/dev/null 2>&1; then
  mkdir -p /var/log
  nohup .venv/bin/dockyardd --pidfile /run/dockyard/dockyardd.pid >>/var/log/dockyardd.log 2>&1 &
  for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
  [ -S "$SOCK" ] || { echo "dockyardd did not start; see /var/log/dockyardd.log" >&2; exit 1; }
fi
echo "dockyardd is up on unix://$SOCK (pid $(cat /run/dockyard/dockyardd.pid 2>/dev/null || echo ?))"

if ! .venv/bin/dockyard image inspect busybox:latest >/dev/null 2>&1; then
  scripts/make-busybox-rootfs.sh --tar - | .venv/bin/dockyard import \
    -c 'CMD ["sh"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - busybox:latest
fi
.venv/bin/dockyard run --rm busybox echo hello from dockyard
echo "Try: DOCKER_HOST=unix://$SOCK docker run --rm busybox echo hello"
