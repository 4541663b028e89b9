"""Service features end to end: env_file, file secrets and configs (bind-mounted
read-only), tmpfs, a healthcheck awaited by `up --wait`, an anonymous volume kept
across a recreation and renewed by `-V`, and `down -v` removing it."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.integration.compose.conftest import Target

pytestmark = pytest.mark.integration

APP = """\
services:
  app:
    image: busybox
    command: ["sh", "-c", "exec sleep 1000"]
    stop_signal: SIGKILL
    env_file: [app.env]
    volumes: ["/cache"]
    tmpfs: [/scratch]
    secrets: [token]
    configs:
      - source: settings
        target: /etc/settings.ini
    healthcheck:
      test: ["CMD", "test", "-f", "/run/secrets/token"]
      interval: 1s
      retries: 30
secrets:
  token:
    file: ./token.txt
configs:
  settings:
    file: ./settings.ini
"""


def test_service_features(target: Target, tmp_path: Path) -> None:
    t = target
    project = "dyf" + uuid.uuid4().hex[:8]
    (tmp_path / "compose.yaml").write_text(APP)
    (tmp_path / "app.env").write_text("FROM_ENV_FILE=one\n")
    (tmp_path / "token.txt").write_text("s3cret")
    (tmp_path / "settings.ini").write_text("[x]\ny=1\n")

    def c(*args: str) -> subprocess.CompletedProcess[str]:
        return t.compose_ok("-p", project, *args, cwd=tmp_path)

    def sh(script: str) -> str:
        return c("exec", "-T", "app", "sh", "-c", script).stdout.strip()

    anon: list[str] = []
    try:
        c("up", "-d", "--wait")
        ps = json.loads(c("ps", "--format", "json").stdout.splitlines()[0])
        assert ps["Health"] == "healthy"
        assert sh("cat /run/secrets/token") == "s3cret"
        assert sh("cat /etc/settings.ini") == "[x]\ny=1"
        assert sh("echo $FROM_ENV_FILE") == "one"
        assert "tmpfs" in sh("grep ' /scratch ' /proc/mounts")
        sh("echo kept > /cache/mark")

        # a changed env_file recreates the container; its anonymous volume comes along
        (tmp_path / "app.env").write_text("FROM_ENV_FILE=two\n")
        assert "Recreate" in c("up", "-d").stderr
        assert sh("echo $FROM_ENV_FILE") == "two"
        assert sh("cat /cache/mark") == "kept"

        # -V renews it
        c("up", "-d", "--force-recreate", "-V")
        assert sh("cat /cache/mark 2>/dev/null || echo gone") == "gone"
        info = json.loads(t.docker("inspect", f"{project}-app-1").stdout)[0]
        anon = [m["Name"] for m in info["Mounts"] if m["Type"] == "volume"]
        assert len(anon) == 1
    finally:
        t.compose("-p", project, "down", "-v", "-t", "0", cwd=tmp_path)
    volumes = t.docker("volume", "ls", "-q").stdout.split()
    assert not set(anon) & set(volumes)
    assert t.docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"
                    ).stdout.strip() == ""  # fmt: skip


VALUES = """\
services:
  app:
    image: busybox
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
    secrets: [api_key, {source: api_key, target: /etc/key, mode: 0400}]
    configs: [motd, {source: from_env, target: conf/env.txt}]
secrets:
  api_key:
    environment: API_KEY
configs:
  motd:
    content: |
      hello ${WHO}
  from_env:
    environment: WHO
"""


def test_secrets_and_configs_from_environment_and_content(target: Target, tmp_path: Path) -> None:
    t = target
    project = "dyv" + uuid.uuid4().hex[:8]
    (tmp_path / "compose.yaml").write_text(VALUES)
    (tmp_path / ".env").write_text("API_KEY=k-123\nWHO=world\n")

    def c(*args: str) -> subprocess.CompletedProcess[str]:
        return t.compose_ok("-p", project, *args, cwd=tmp_path)

    def sh(script: str) -> str:
        return c("exec", "-T", "app", "sh", "-c", script).stdout.strip()

    try:
        c("up", "-d")
        assert sh("cat /run/secrets/api_key") == "k-123"
        assert sh("stat -c %a /run/secrets/api_key /etc/key") == "444\n400"
        assert sh("cat /motd") == "hello world"
        assert sh("cat /conf/env.txt") == "world"
        # a variable the project does not have is an error naming it, before anything starts
        (tmp_path / ".env").write_text("WHO=world\n")
        c("down", "-t", "0")
        r = t.compose("-p", project, "up", "-d", cwd=tmp_path)
        assert r.returncode != 0
        assert 'environment variable "API_KEY" required by file' in r.stderr
    finally:
        t.compose("-p", project, "down", "-v", "-t", "0", cwd=tmp_path)
