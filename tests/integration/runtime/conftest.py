"""Bundles and runtimes for the differential runtime tests (needs root and runc).

``bundle`` makes a fresh busybox bundle in a temp dir (the rootfs is built
once per session by scripts/make-busybox-rootfs.sh and copied);
``runtimes`` are runc and dockyard-runtime, each with its own temp ``--root``.
Every container started through ``Runtime`` is ``delete --force``d at the end
of its test, even on failure; temp dirs are removed.
"""

from __future__ import annotations

import copy
import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DOCKYARD_RUNTIME = str(Path(sys.executable).parent / "dockyard-runtime")
RUNC = shutil.which("runc") or "/usr/sbin/runc"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


class Runtime:
    """One OCI runtime binary with a private ``--root``; remembers what it started."""

    def __init__(self, name: str, argv0: str, root: Path):
        self.name, self.argv0, self.root = name, argv0, root
        self.started: list[str] = []

    def cmd(self, *args: str) -> list[str]:
        return [self.argv0, "--root", str(self.root), *args]

    def call(self, *args: str, timeout: float = 20, **kwargs) -> subprocess.CompletedProcess:
        """Run a command; stdout/stderr go to temp files, not pipes, unless given:
        a created container keeps its stdio open, so reading a pipe to EOF would hang."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            kwargs.setdefault("stdout", out)
            kwargs.setdefault("stderr", err)
            r = subprocess.run(self.cmd(*args), timeout=timeout, **kwargs)
            out.seek(0)
            err.seek(0)
            r.stdout = out.read() if kwargs["stdout"] is out else r.stdout
            r.stderr = err.read() if kwargs["stderr"] is err else r.stderr
        return r

    def new_id(self) -> str:
        container_id = f"dytest-{uuid.uuid4().hex[:10]}"
        self.started.append(container_id)
        return container_id

    def run(self, bundle: Path, **kwargs) -> subprocess.CompletedProcess:
        return self.call("run", "--bundle", str(bundle), self.new_id(), **kwargs)

    def wait_status(self, container_id: str, status: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while f'"status": "{status}"'.encode() not in self.call("state", container_id).stdout:
            assert time.monotonic() < deadline, f"{container_id} never became {status}"
            time.sleep(0.02)

    def cleanup(self) -> None:
        for container_id in self.started:
            subprocess.run(
                self.cmd("delete", "--force", container_id), capture_output=True, timeout=20
            )


class Bundle:
    """A bundle directory: ``rootfs/`` plus ``config.json`` written from ``config``."""

    def __init__(self, path: Path, config: dict):
        self.path, self.config = path, config

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    def write(self, args: list[str] | None = None) -> Path:
        if args is not None:
            self.config["process"]["args"] = args
        (self.path / "config.json").write_text(json.dumps(self.config, indent=1))
        return self.path


@pytest.fixture(scope="session")
def runtime_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runtime")


@pytest.fixture(scope="session")
def busybox_rootfs(runtime_tmp: Path) -> Path:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    path = runtime_tmp / "busybox-rootfs"
    subprocess.run([str(REPO / "scripts/make-busybox-rootfs.sh"), str(path)], check=True)
    return path


@pytest.fixture(scope="session")
def default_config(runtime_tmp: Path) -> dict:
    """What ``dockyard-runtime spec`` writes, with terminal off (stdio are pipes in tests)."""
    where = runtime_tmp / "spec"
    where.mkdir()
    subprocess.run([DOCKYARD_RUNTIME, "spec", "--bundle", str(where)], check=True)
    config = json.loads((where / "config.json").read_text())
    config["process"]["terminal"] = False
    return config


@pytest.fixture
def bundle(tmp_path: Path, busybox_rootfs: Path, default_config: dict) -> Bundle:
    path = tmp_path / "bundle"
    path.mkdir()
    subprocess.run(["cp", "-a", str(busybox_rootfs), str(path / "rootfs")], check=True)
    b = Bundle(path, copy.deepcopy(default_config))
    b.write()
    return b


def _make_runtime(name: str, argv0: str, tmp_path: Path) -> Runtime:
    root = tmp_path / f"state-{name}"
    root.mkdir()
    return Runtime(name, argv0, root)


@pytest.fixture
def runtimes(tmp_path: Path):
    """runc and dockyard-runtime, side by side."""
    pair = [
        _make_runtime("runc", RUNC, tmp_path),
        _make_runtime("dockyard", DOCKYARD_RUNTIME, tmp_path),
    ]
    yield pair
    for r in pair:
        r.cleanup()


@pytest.fixture
def dockyard(tmp_path: Path):
    runtime = _make_runtime("dockyard", DOCKYARD_RUNTIME, tmp_path)
    yield runtime
    runtime.cleanup()


@pytest.fixture
def subreaper():
    """Make this test process a child subreaper (as the monitor is); reap what it adopted."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    yield
    libc.prctl(36, 0, 0, 0, 0)
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
