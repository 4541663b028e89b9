"""Per-container runtimes (issue 12): `docker run --runtime runc` runs the
container with runc (exec, pause and update too), /info lists every runtime the
daemon knows (`runc` always, as dockerd; the daemon's `--add-runtime NAME=PATH`
ones), and an unknown name is refused at create. Both engines where Docker's."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Daemon, daemon_with_busybox, inspect

pytestmark = pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed")


def test_run_with_runc(engine: Daemon) -> None:
    info = json.loads(engine.docker("info", "--format", "{{json .Runtimes}}", check=True).stdout)
    assert "runc" in info and info["runc"]["path"]
    name = f"fid-rt-{uuid.uuid4().hex[:8]}"
    try:
        engine.docker("run", "-d", "--name", name, "--runtime", "runc", "--network", "none",
                      "busybox", "sleep", "300", check=True)  # fmt: skip
        assert inspect(engine, name)["HostConfig"]["Runtime"] == "runc"
        assert engine.docker("exec", name, "echo", "hi", check=True).stdout == "hi\n"
        engine.docker("pause", name, check=True)
        engine.docker("unpause", name, check=True)
        engine.docker("update", "--cpu-shares", "512", name, check=True)
        engine.docker("rm", "-f", name, check=True)
        out = engine.docker("run", "--rm", "--runtime", "runc", "--network", "none", "busybox",
                            "echo", "ok", check=True)  # fmt: skip
        assert out.stdout == "ok\n"
    finally:
        engine.docker("rm", "-f", name)


def test_unknown_runtime_is_refused(engine: Daemon) -> None:
    r = engine.docker("create", "--runtime", "nosuch", "busybox", "true")
    assert r.returncode != 0
    assert "Unknown runtime specified nosuch" in r.stderr


@pytest.fixture
def added(tmp_path: Path, busybox_rootfs_tar: Path) -> Iterator[Daemon]:
    runc = shutil.which("runc")
    assert runc
    with daemon_with_busybox(tmp_path, busybox_rootfs_tar,
                             ["--add-runtime", f"myrunc={runc}"]) as d:  # fmt: skip
        yield d


def test_add_runtime(added: Daemon) -> None:
    info = json.loads(added.docker("info", "--format", "{{json .}}", check=True).stdout)
    assert info["Runtimes"]["myrunc"]["path"] == shutil.which("runc")
    assert "runc" in info["Runtimes"] and info["DefaultRuntime"] in info["Runtimes"]
    out = added.docker("run", "--rm", "--runtime", "myrunc", "--network", "none", "busybox",
                       "echo", "ok", check=True)  # fmt: skip
    assert out.stdout == "ok\n"
