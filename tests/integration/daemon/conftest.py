"""Fixtures for the daemon tests that need a dockyardd of their own (restarts, kills), and
a peer dockerd to run the same test against (`engine`)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BUSYBOX_PATH, Daemon, kill_leftovers, start_daemon, stop_daemon
from tests.peers import peer_dockerd


@pytest.fixture()
def private_root(session_tmp: Path, busybox_rootfs_tar: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    root = session_tmp / f"private-{os.getpid()}-{time.monotonic_ns()}"
    root.mkdir()
    d = start_daemon(root)
    d.docker(
        "import",
        "-c",
        'CMD ["sh"]',
        "-c",
        f"ENV PATH={BUSYBOX_PATH}",
        str(busybox_rootfs_tar),
        "busybox:latest",
        check=True,
    )
    stop_daemon(d)
    try:
        yield root
    finally:
        try:
            d = start_daemon(root)
            ids = d.docker("ps", "-aq").stdout.split()
            if ids:
                d.docker("rm", "-f", *ids)
            stop_daemon(d)
        finally:
            kill_leftovers(root)  # even when the daemon would not start again


class Peer:
    """A dockerd on its own socket, data root and exec root, without a bridge."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.sock = f"{root}/d.sock"

    def docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}",
                   DOCKER_CONFIG=f"{self.root}/cfg", DOCKER_CLI_HINTS="false")  # fmt: skip
        return subprocess.run(["docker", *args], env=env, capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip


@pytest.fixture(scope="session")
def peer(busybox_rootfs_tar: Path) -> Iterator[Peer]:
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd is not installed")
    with peer_dockerd("dy-daemon-peer-") as host:
        p = Peer(os.path.dirname(host.removeprefix("unix://")))
        r = p.docker("import", "-c", 'CMD ["sh"]', "-c", f"ENV PATH={BUSYBOX_PATH}",
                     str(busybox_rootfs_tar), "busybox:latest")  # fmt: skip
        assert r.returncode == 0, r.stderr
        yield p


@pytest.fixture(params=["dockyardd", "dockerd"])
def engine(request: pytest.FixtureRequest) -> Iterator[Daemon | Peer]:
    """The session's dockyardd, then a peer dockerd: one test, the same expectations;
    names appended to `engine.made` are removed afterwards."""
    e = request.getfixturevalue("daemon" if request.param == "dockyardd" else "peer")
    made: list[str] = []
    e.made = made  # type: ignore[union-attr]
    yield e
    if made:
        e.docker("rm", "-f", *made)


def live_monitors(root: Path) -> set[str]:
    """Containers whose monitor is alive: its socket (exec-root/s/<id[:32]>) is
    listened on. Monitors share host processes, so a pid says less."""
    out = set()
    for bundle in (root / "exec" / "containers").glob("*"):
        sock = root / "exec" / "s" / bundle.name[:32]
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(str(sock))
        except OSError:
            continue
        finally:
            s.close()
        out.add(bundle.name)
    return out
