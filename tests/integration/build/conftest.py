"""Fixtures of the build tests that compare with a peer dockerd's legacy builder:
the peer (its own socket, data root, exec root, pidfile, no bridge), busybox
imported into it, and the docker CLI run against a host with BuildKit off."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BUSYBOX_PATH
from tests.peers import peer_dockerd


@pytest.fixture(scope="module")
def peer() -> Iterator[str]:
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd is not installed")
    with peer_dockerd("dy-build-peer-") as host:
        yield host


@pytest.fixture(scope="module")
def peer_busybox(peer: str, busybox_rootfs_tar: Path) -> str:
    r = docker_at(peer, "import", "-c", 'CMD ["sh"]', "-c", f"ENV PATH={BUSYBOX_PATH}",
                str(busybox_rootfs_tar), "busybox:latest")  # fmt: skip
    assert r.returncode == 0, r.stderr
    return peer


def docker_at(
    host: str, *args: str, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DOCKER_HOST=host, DOCKER_BUILDKIT="0", DOCKER_CLI_HINTS="false")
    env.pop("DOCKER_CONTEXT", None)
    env.update(env_extra or {})
    return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=120)
