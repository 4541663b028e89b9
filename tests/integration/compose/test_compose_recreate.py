"""docker-compose v1 (Debian's 1.29 on docker-py 5, which negotiates the daemon's
newest API version) against dockyardd: `up -d` after a change to one service
recreates that service only, carrying its anonymous volume over. Compose reads
the image's `ContainerConfig` for that (issue 17: it crashed with KeyError), which
dockerd drops at 1.45 and we keep (api/versions.py says why)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import Daemon

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("docker-compose") is None, reason="docker-compose not installed"
    ),
]

COMPOSE = """\
version: "3.8"
services:
  changed:
    image: busybox
    command: ["sleep", "300"]
    environment:
      GREETING: "{greeting}"
    volumes: ["/data"]
  kept:
    image: busybox
    command: ["sleep", "300"]
"""


def _compose(d: Daemon, project: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker-compose", "-p", project, *args],
        cwd=cwd,
        env=d.env(),
        capture_output=True,
        text=True,
        timeout=180,
    )


def _ids(d: Daemon, project: str) -> dict[str, str]:
    r = d.docker(
        "ps", "-a", "--no-trunc", "--filter", f"label=com.docker.compose.project={project}",
        "--format", '{{.ID}} {{.Label "com.docker.compose.service"}}',
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return {svc: cid for cid, svc in (line.split() for line in r.stdout.splitlines())}


def test_up_recreates_only_the_changed_service(daemon: Daemon, tmp_path: Path) -> None:
    project = "dyr" + uuid.uuid4().hex[:6]
    spec = tmp_path / "docker-compose.yml"
    spec.write_text(COMPOSE.format(greeting="hello"))
    try:
        r = _compose(daemon, project, tmp_path, "up", "-d")
        assert r.returncode == 0, r.stdout + r.stderr
        before = _ids(daemon, project)
        assert before.keys() == {"changed", "kept"}

        # the same file again: nothing to do
        r = _compose(daemon, project, tmp_path, "up", "-d")
        assert r.returncode == 0, r.stdout + r.stderr
        assert _ids(daemon, project) == before

        # what the anonymous volume holds must survive the recreate (compose carries
        # the old container's volume over: the path that read ContainerConfig)
        w = daemon.docker("exec", before["changed"], "sh", "-c", "echo kept > /data/f")
        assert w.returncode == 0, w.stderr

        spec.write_text(COMPOSE.format(greeting="bonjour"))
        r = _compose(daemon, project, tmp_path, "up", "-d")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Recreating" in r.stderr and "KeyError" not in r.stderr, r.stderr
        after = _ids(daemon, project)
        assert after["kept"] == before["kept"]
        assert after["changed"] != before["changed"]
        env = daemon.docker("inspect", "-f", "{{json .Config.Env}}", after["changed"]).stdout
        assert "GREETING=bonjour" in env
        state = daemon.docker("inspect", "-f", "{{.State.Running}}", after["changed"]).stdout
        assert state.strip() == "true"
        assert daemon.docker("exec", after["changed"], "cat", "/data/f").stdout == "kept\n"
    finally:
        r = _compose(daemon, project, tmp_path, "down", "-v")
    assert r.returncode == 0, r.stderr
    assert _ids(daemon, project) == {}
