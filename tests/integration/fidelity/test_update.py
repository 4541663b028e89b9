"""`docker update` (issue 12.4): what is not given is kept. The CLI sends an empty
restart policy when `--restart` is not given; dockerd keeps the container's."""

from __future__ import annotations

import uuid

from tests.conftest import Daemon, inspect


def test_update_without_restart_keeps_the_restart_policy(engine: Daemon) -> None:
    name = f"fid-upd-{uuid.uuid4().hex[:8]}"
    engine.docker("run", "-d", "--name", name, "--network", "none",
                  "--restart", "on-failure:3", "busybox", "sleep", "300", check=True)  # fmt: skip
    try:
        engine.docker("update", "--cpu-shares", "512", name, check=True)
        hc = inspect(engine, name)["HostConfig"]
        assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
        assert hc["CpuShares"] == 512
        engine.docker("update", "--restart", "always", name, check=True)
        assert inspect(engine, name)["HostConfig"]["RestartPolicy"]["Name"] == "always"
    finally:
        engine.docker("rm", "-f", name)
