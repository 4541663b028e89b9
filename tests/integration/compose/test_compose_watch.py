"""`compose watch`: a `sync` rule copies a changed file into the running container."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.compose.conftest import Target
from tests.integration.compose.proc import alive, children, end_group

pytestmark = pytest.mark.integration

APP = """\
services:
  app:
    image: busybox
    command: ["sh", "-c", "mkdir -p /app && exec sleep 1000"]
    stop_signal: SIGKILL
    develop:
      watch:
        - action: sync
          path: ./src
          target: /app
"""


def test_watch_syncs_changes(target: Target, tmp_path: Path) -> None:
    t = target
    project = "dyw" + uuid.uuid4().hex[:8]
    (tmp_path / "compose.yaml").write_text(APP)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "old.txt").write_text("old")
    watch = subprocess.Popen([*t.argv, "-p", project, "watch"], cwd=tmp_path, env=t.env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)  # fmt: skip
    try:
        assert watch.stderr is not None
        deadline = time.monotonic() + 120
        for line in watch.stderr:
            if "Watch enabled" in line:
                break
            assert time.monotonic() < deadline, "watch did not start"
        (tmp_path / "src" / "new.txt").write_text("synced")
        (tmp_path / "src" / "old.txt").unlink()
        deadline = time.monotonic() + 60
        while True:
            r = t.compose("-p", project, "exec", "-T", "app", "sh", "-c",
                          "cat /app/new.txt; echo; ls /app", cwd=tmp_path)  # fmt: skip
            if r.stdout.split() == ["synced", "new.txt"]:
                break
            assert time.monotonic() < deadline, r.stdout + r.stderr
            time.sleep(0.3)
        # the docker CLI killed alone: the plugin it ran notices and ends too
        plugins = children(watch.pid)
        watch.kill()
        watch.wait()
        deadline = time.monotonic() + 30
        while any(alive(p) for p in plugins):
            assert time.monotonic() < deadline, "the plugin outlived the docker CLI"
            time.sleep(0.1)
    finally:
        end_group(watch)
        t.compose("-p", project, "down", "-t", "0", cwd=tmp_path)
