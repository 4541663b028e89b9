"""A peer dockerd (Debian's docker.io, API 1.41) on its own socket, data root,
exec root, pidfile and no bridge, for the API-version differential tests; and
busybox imported into it. Skipped when dockerd is missing or we are not root."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BUSYBOX_PATH
from tests.peers import peer_dockerd


def docker(host: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DOCKER_HOST=host, DOCKER_CLI_HINTS="false")
    env.pop("DOCKER_CONTEXT", None)
    env.pop("DOCKER_API_VERSION", None)
    return subprocess.run(
        ["docker", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def peer(busybox_rootfs_tar: Path) -> Iterator[str]:
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd is not installed")
    with peer_dockerd("dy-apiver-peer-") as host:
        r = docker(host, "import", "-c", 'CMD ["sh"]', "-c", f"ENV PATH={BUSYBOX_PATH}",
                   str(busybox_rootfs_tar), "busybox:latest")  # fmt: skip
        assert r.returncode == 0, r.stderr
        yield host
