"""`docker update` (issue 12.4): what is not given is kept. The CLI sends an empty
restart policy when `--restart` is not given; dockerd keeps the container's."""

from __future__ import annotations

import uuid

from tests.conftest import Daemon, inspect
from tests.integration.daemon.rawapi import error_message, request


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


def test_update_checks_the_restart_policy_as_create_does(engine: Daemon) -> None:
    """A policy dockerd would refuse at create is refused at update too (a 400), and the
    container keeps the one it had; through the docker CLI and the raw API. dockerd 20.10
    says `invalid restart policy 'bogus'`, dockyardd as create and newer dockerds
    (`invalid restart policy: unknown policy 'bogus'; use one of ...`)."""
    name = f"fid-upd-{uuid.uuid4().hex[:8]}"
    engine.docker("create", "--name", name, "--network", "none",
                  "--restart", "on-failure:3", "busybox", "true", check=True)  # fmt: skip
    try:
        for policy, words in (("bogus", "'bogus'"), ("always:3", "maximum retry count")):
            r = engine.docker("update", "--restart", policy, name)
            assert r.returncode == 1 and words in r.stderr, r.stderr
        body = {"RestartPolicy": {"Name": "bogus"}}
        status, _, raw = request(engine.sock, "POST", f"/v1.41/containers/{name}/update", body)
        message = error_message(status, "application/json", raw)
        assert status == 400 and "invalid restart policy" in message and "'bogus'" in message
        hc = inspect(engine, name)["HostConfig"]
        assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    finally:
        engine.docker("rm", "-f", name)
