"""The data root and exec root get dockerd's modes (0710 on the data root, 0700
on the image store and build cache, ...), on a fresh root and on one an older
version left world-readable; a local user who is not root reads nothing."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.daemon.rootmodes import DATA_DIRS, DATA_ROOT_MODE, EXEC_DIRS
from tests.conftest import Daemon, kill_leftovers, start_daemon, stop_daemon

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
]

# what dockerd 20.10 sets on a fresh --data-root (stat of a peer's, by name)
DOCKERD = {"": 0o710, "containers": 0o710, "image": 0o700, "volumes": 0o701,
           "network": 0o750, "swarm": 0o700, "tmp": 0o700}  # fmt: skip


@pytest.fixture()
def root() -> Iterator[Path]:
    r = Path(tempfile.mkdtemp(prefix="dy-modes-"))
    yield r
    kill_leftovers(r)
    shutil.rmtree(r, ignore_errors=True)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _run(root: Path) -> Daemon:
    d = start_daemon(root)
    r = d.docker("volume", "create", "v1")  # a store in use, not only created
    assert r.returncode == 0, r.stderr
    return d


def _check(root: Path) -> None:
    data, exec_root = root / "data", root / "exec"
    assert _mode(data) == DATA_ROOT_MODE
    for name, want in DOCKERD.items():
        if name:
            assert _mode(data / name) == want, name
    for name, want in DATA_DIRS.items():
        assert _mode(data / name) == want, name
    for name, want in EXEC_DIRS.items():
        assert _mode(exec_root / name) == want, name
    # every top directory: nothing for others but traversal of volumes
    for p in data.iterdir():
        if p.is_dir():
            others = _mode(p) & 0o007
            assert others == (0o001 if p.name == "volumes" else 0), (p.name, oct(_mode(p)))
    # and a user who is not root reads none of it
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "ls", str(data / "image")], capture_output=True, text=True)  # fmt: skip
    assert r.returncode != 0 and "Permission denied" in r.stderr, r


def test_fresh_root(root: Path) -> None:
    d = _run(root)
    try:
        _check(root)
        assert _mode(root / "exec") == 0o700
    finally:
        stop_daemon(d)


def test_existing_world_readable_root_is_fixed(root: Path) -> None:
    data = root / "data"
    for name in ["", *DATA_DIRS]:
        (data / name).mkdir(parents=True, exist_ok=True)
        os.chmod(data / name, 0o755)
    (root / "exec").mkdir()
    os.chmod(root / "exec", 0o755)
    d = _run(root)
    try:
        _check(root)
        assert _mode(root / "exec") == 0o755  # dockerd leaves an existing exec root alone
    finally:
        stop_daemon(d)
