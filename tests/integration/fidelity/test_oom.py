"""A memory-cgroup OOM kill (issue 12.7): `State.OOMKilled` is true and an `oom`
event comes before `die`, as dockerd reports it; a container that exits normally
after a restart is no longer OOMKilled."""

from __future__ import annotations

import json
import time
import uuid

from tests.conftest import Daemon, inspect


def test_oom_kill_is_reported(engine: Daemon) -> None:
    name = f"fid-oom-{uuid.uuid4().hex[:8]}"
    since = time.time() - 1
    # swap limited as well, so the kernel kills instead of swapping; `tail /dev/zero`
    # holds one endless line in memory (the first run only: the next one sleeps)
    script = "[ -e /ran ] && exec sleep 300; touch /ran; tail /dev/zero"
    r = engine.docker("run", "--name", name, "--network", "none", "-m", "16m",
                      "--memory-swap", "16m", "busybox", "sh", "-c", script,
                      timeout=120)  # fmt: skip
    try:
        assert r.returncode == 137, r.stderr
        state = inspect(engine, name)["State"]
        assert state["OOMKilled"] is True
        assert state["ExitCode"] == 137
        cid = inspect(engine, name)["Id"]
        ev = engine.docker("events", "--since", f"{since:.3f}", "--until", f"{time.time() + 1:.3f}",
                           "--filter", f"container={cid}", "--format", "{{json .}}", check=True)  # fmt: skip
        actions = [json.loads(line)["Action"] for line in ev.stdout.splitlines()]
        assert "oom" in actions and actions.index("oom") < actions.index("die"), actions
        # a later run that is not OOM killed is not reported so
        engine.docker("start", name, check=True)
        engine.docker("stop", "-t", "0", name, check=True)
        assert inspect(engine, name)["State"]["OOMKilled"] is False
    finally:
        engine.docker("rm", "-f", name)
