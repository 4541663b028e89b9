"""`compose run SERVICE` starts the services SERVICE depends on, never a container of
SERVICE itself: the one-off is its only container (docker compose's runDependencies)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from tests.integration.compose.conftest import Target

pytestmark = pytest.mark.integration

APP = """\
services:
  db:
    image: busybox
    command: ["sh", "-c", "exec sleep 1000"]
    stop_signal: SIGKILL
  web:
    image: busybox
    command: ["sh", "-c", "exec sleep 1000"]
    stop_signal: SIGKILL
    depends_on: [db]
"""


def test_run_starts_dependencies_not_the_service(target: Target, tmp_path: Path) -> None:
    t = target
    project = "dyr" + uuid.uuid4().hex[:8]
    (tmp_path / "compose.yaml").write_text(APP)

    def c(*args: str) -> subprocess.CompletedProcess[str]:
        return t.compose_ok("-p", project, *args, cwd=tmp_path)

    try:
        assert c("run", "--rm", "web", "echo", "one-off").stdout.strip().endswith("one-off")
        names = t.docker("ps", "-a", "--filter", f"label=com.docker.compose.project={project}",
                         "--format", "{{.Names}}").stdout.split()  # fmt: skip
        assert names == [f"{project}-db-1"]
    finally:
        c("down", "-t", "0")
