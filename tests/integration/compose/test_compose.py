"""docker-compose (Debian's 1.29, which drives the Engine API through docker-py)
against dockyardd: a project with a user network, service-name resolution and a
shared named volume; `down -v` leaves nothing behind."""

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
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    volumes: ["site:/www"]
  client:
    image: busybox
    depends_on: [web]
    command: ["sh", "-c", "echo hello from compose > /www/index.html; sleep 1; wget -qO- http://web:8080/index.html"]
    volumes: ["site:/www"]
volumes:
  site:
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


def test_compose_up_resolves_services_and_down_cleans(daemon: Daemon, tmp_path: Path) -> None:
    project = "dyc" + uuid.uuid4().hex[:6]
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    try:
        r = _compose(
            daemon,
            project,
            tmp_path,
            "up",
            "--abort-on-container-exit",
            "--exit-code-from",
            "client",
        )
        assert r.returncode == 0, r.stdout + r.stderr
        assert "hello from compose" in r.stdout
    finally:
        r = _compose(daemon, project, tmp_path, "down", "-v")
    assert r.returncode == 0, r.stderr
    assert project not in daemon.docker("ps", "-a", "--format", "{{.Names}}").stdout
    assert project not in daemon.docker("network", "ls", "--format", "{{.Name}}").stdout
    assert project not in daemon.docker("volume", "ls", "--format", "{{.Name}}").stdout
