"""Three managers (each an etcd member, added through etcd's member API at join): the
leader's engine SIGKILLed and its link cut leaves a working cluster; the orchestrator
moves to another manager and the lost node's tasks run elsewhere."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.swarm.conftest import tasks, wait_for
from tests.integration.swarm.hosts import Cluster, Host


@pytest.fixture(scope="module")
def hosts(busybox_rootfs_tar: Path) -> Iterator[list[Host]]:
    if os.geteuid() != 0 or not shutil.which("etcd"):
        pytest.skip("needs root and etcd")
    base = Path(tempfile.mkdtemp(prefix="dysw-"))
    c = Cluster(base)
    try:
        yield c.up(3, busybox_rootfs_tar)
    finally:
        c.down()
        shutil.rmtree(base, ignore_errors=True)


def test_leader_lost_with_three_managers(hosts: list[Host]) -> None:
    h1, h2, h3 = hosts
    d1, d2, d3 = h1.daemon, h2.daemon, h3.daemon
    assert d1 is not None and d2 is not None and d3 is not None
    d1.docker("swarm", "init", "--advertise-addr", h1.addr, check=True, timeout=60)
    token = d1.docker("swarm", "join-token", "-q", "manager", check=True).stdout.strip()
    for d in (d2, d3):
        r = d.docker("swarm", "join", "--token", token, f"{h1.addr}:2377", timeout=120)
        assert r.returncode == 0, r.stderr + d.log_path.read_text()[-2000:]
        assert "This node joined a swarm as a manager." in r.stdout
    status = d2.docker("node", "ls", "--format", "{{.ManagerStatus}}", check=True).stdout.split()
    assert sorted(status) == ["Leader", "Reachable", "Reachable"]
    d1.docker("service", "create", "--detach", "--no-resolve-image", "--name", "web",
              "--replicas", "6", "busybox", "sleep", "100000", check=True)  # fmt: skip

    def running(d, exclude: str = "") -> int:  # type: ignore[no-untyped-def]
        return sum(1 for t in tasks(d, "web") if t["Status"]["State"] == "running"
                   and t["DesiredState"] == "running" and t["NodeID"] != exclude)  # fmt: skip

    wait_for("6 running", lambda: running(d1) == 6)
    leader = d1.docker("info", "--format", "{{.Swarm.NodeID}}", check=True).stdout.strip()
    h1.kill()
    h1.link(False)
    wait_for(
        "a new leader",
        lambda: (
            "Leader"
            in d2.docker("node", "ls", "--format", "{{.ID}} {{.ManagerStatus}}").stdout.replace(
                leader, "x"
            )
        ),
        60,
    )
    wait_for("6 running on h2 and h3", lambda: running(d2, exclude=leader) == 6, 60)
    r = d3.docker("service", "scale", "--detach", "web=8")
    assert r.returncode == 0, r.stderr
    wait_for("8 running", lambda: running(d3, exclude=leader) == 8, 60)
