"""`docker builder prune` and `docker system prune` (POST /build/prune) through the
official docker CLI: cache entries go, the next build misses, bad filters are refused."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import Daemon, start_daemon, stop_daemon
from tests.integration.build.test_build import build, write
from tests.integration.daemon.conftest import private_root  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration


def test_builder_prune_drops_the_cache(daemon: Daemon, tmp_path: Path) -> None:
    tag = "prune-" + uuid.uuid4().hex[:8]
    marker = uuid.uuid4().hex  # a step no other test's cache holds
    ctx = write(tmp_path, {"Dockerfile": f"FROM busybox\nRUN echo {marker} > /m\n"})
    try:
        assert build(daemon, ctx, "-t", tag).returncode == 0
        again = build(daemon, ctx, "-t", tag)
        assert again.returncode == 0 and "Using cache" in again.stdout
        # without --all: only entries whose image is gone (none here)
        r = daemon.docker("builder", "prune", "-f", check=True)
        assert "Total reclaimed space" in r.stdout
        assert "Using cache" in build(daemon, ctx, "-t", tag).stdout
        r = daemon.docker("builder", "prune", "-af", check=True)
        assert "Deleted build cache objects:" in r.stdout, r.stdout
        cold = build(daemon, ctx, "-t", tag)
        assert cold.returncode == 0 and "Using cache" not in cold.stdout
        # the API's own answer, and a filter it does not know
        r = subprocess.run(
            ["curl", "-s", "-X", "POST", "--unix-socket", daemon.sock,
             "http://x/v1.45/build/prune?all=1&filters=%7B%22until%22%3A%5B%220s%22%5D%7D"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        body = json.loads(r.stdout)
        assert body["SpaceReclaimed"] == 0 and len(body["CachesDeleted"] or []) >= 1
        r = daemon.docker("builder", "prune", "-f", "--filter", "nope=1")
        assert r.returncode != 0 and "invalid filter 'nope'" in r.stderr
    finally:
        daemon.docker("rmi", "-f", tag)


def test_system_prune_works(private_root: Path) -> None:  # noqa: F811
    """On a daemon of its own: system prune touches every stopped container."""
    d = start_daemon(private_root)
    try:
        stopped = d.docker("create", "busybox", "true", check=True).stdout.strip()
        running = d.docker("run", "-d", "busybox", "sleep", "60", check=True).stdout.strip()
        r = d.docker("system", "prune", "-f")
        assert r.returncode == 0, r.stderr
        assert stopped in r.stdout and "Total reclaimed space" in r.stdout
        assert d.docker("ps", "-aq", "--no-trunc").stdout.split() == [running]
        d.docker("rm", "-f", running, check=True)
    finally:
        stop_daemon(d)
