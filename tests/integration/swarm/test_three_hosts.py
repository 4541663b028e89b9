"""Three test hosts (a dockyardd per network namespace) through the official docker CLI:
init, two joins, 6 replicas spread 2 per node, drain, a node's engine SIGKILLed with its
link down (tasks replaced elsewhere; its stale tasks stopped when it returns), a
start-first rolling update that never runs fewer than the desired replicas, and a
secret's content in tasks on every node."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.swarm.conftest import tasks, wait_for
from tests.integration.swarm.hosts import Host, cluster_up


@pytest.fixture(scope="module")
def hosts(busybox_rootfs_tar: Path) -> Iterator[list[Host]]:
    if os.geteuid() != 0 or not shutil.which("etcd"):
        pytest.skip("needs root and etcd")
    with cluster_up(3, busybox_rootfs_tar, "dysw-") as hosts:
        yield hosts


def running_by_node(h: Host, service: str) -> Counter[str]:
    assert h.daemon is not None
    return Counter(
        t["NodeID"] for t in tasks(h.daemon, service)
        if t["Status"]["State"] == "running" and t["DesiredState"] == "running"
    )  # fmt: skip


def containers_up(h: Host, service: str) -> int:
    assert h.daemon is not None
    r = h.daemon.docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}")
    return len(r.stdout.split())


def test_three_hosts(hosts: list[Host]) -> None:
    h1, h2, h3 = hosts
    d1 = h1.daemon
    assert d1 is not None and h2.daemon is not None and h3.daemon is not None
    r = d1.docker("swarm", "init", "--advertise-addr", h1.addr, timeout=60)
    assert r.returncode == 0, r.stderr + d1.log_path.read_text()[-2000:]
    token = d1.docker("swarm", "join-token", "-q", "worker", check=True).stdout.strip()
    bad = h2.daemon.docker("swarm", "join", "--token", token[:-3] + "xyz", f"{h1.addr}:2377")
    assert bad.returncode != 0 and "A valid join token is necessary" in bad.stderr
    for h in (h2, h3):
        assert h.daemon is not None
        r = h.daemon.docker("swarm", "join", "--token", token, f"{h1.addr}:2377", timeout=60)
        assert r.returncode == 0, r.stderr
        assert "This node joined a swarm as a worker." in r.stdout
    ls = d1.docker("node", "ls", "--format", "{{.Status}}", check=True).stdout.split()
    assert ls == ["Ready"] * 3
    ids = {h.name: d.docker("info", "--format", "{{.Swarm.NodeID}}", check=True).stdout.strip()
           for h, d in ((h, h.daemon) for h in hosts) if d is not None}  # fmt: skip

    # 6 replicas: 2 per node
    d1.docker("service", "create", "--detach", "--no-resolve-image", "--name", "web", "--replicas", "6",
              "--stop-grace-period", "1s", "busybox", "sleep", "100000", check=True)  # fmt: skip
    wait_for("2 per node", lambda: sorted(running_by_node(h1, "web").values()) == [2, 2, 2])
    assert [containers_up(h, "web") for h in hosts] == [2, 2, 2]

    # drain h3: its tasks move to h1 and h2
    d1.docker("node", "update", "--availability", "drain", ids[h3.name], check=True)
    wait_for("h3 drained", lambda: running_by_node(h1, "web")
             == Counter({ids[h1.name]: 3, ids[h2.name]: 3}))  # fmt: skip
    wait_for("h3's containers stopped", lambda: containers_up(h3, "web") == 0)
    d1.docker("node", "update", "--availability", "active", ids[h3.name], check=True)

    # h2's engine SIGKILLed and its link down: its tasks are replaced on h1 and h3
    h2.kill()
    h2.link(False)
    wait_for(
        "h2 down",
        lambda: "Down" in d1.docker("node", "ls", "--format", "{{.ID}} {{.Status}}").stdout,
    )
    got = wait_for(
        "6 running without h2",
        lambda: (c := running_by_node(h1, "web"), sum(c.values()) == 6 and ids[h2.name] not in c)[
            1
        ],
    )
    assert got
    # h2 returns: its stale containers (still running after the SIGKILL) are stopped
    h2.link(True)
    h2.start()
    wait_for("h2's stale tasks stopped", lambda: containers_up(h2, "web") == 0)
    wait_for("h2 ready", lambda: d1.docker("node", "ls", "--format", "{{.Status}}").stdout.split()
             == ["Ready"] * 3)  # fmt: skip

    # start-first rolling update: never fewer than 6 running
    d1.docker("service", "update", "--detach", "--no-resolve-image", "--update-order", "start-first",
              "--update-parallelism", "2", "--env-add", "V=2", "web", check=True)  # fmt: skip
    low = 6

    def updated() -> bool:
        nonlocal low
        ts = [t for t in tasks(d1, "web")
              if t["Status"]["State"] == "running" and t["DesiredState"] == "running"]  # fmt: skip
        low = min(low, len(ts))
        return len(ts) == 6 and all("V=2" in (t["Spec"]["ContainerSpec"].get("Env") or [])
                                    for t in ts)  # fmt: skip

    wait_for("update done", updated, timeout=120)
    assert low >= 6

    # a secret's content inside tasks on every node
    d1.docker("secret", "create", "token", "-", input=b"abc123", check=True)
    d1.docker("service", "create", "--detach", "--no-resolve-image", "--name", "sec", "--mode", "global",
              "--secret", "token", "busybox", "sleep", "100000", check=True)  # fmt: skip
    wait_for("3 secret tasks", lambda: sum(running_by_node(h1, "sec").values()) == 3)
    for h in hosts:
        assert h.daemon is not None
        cid = h.daemon.docker("ps", "-q", "--filter",
                              "label=com.docker.swarm.service.name=sec").stdout.split()[0]  # fmt: skip
        assert h.daemon.docker("exec", cid, "cat", "/run/secrets/token",
                               check=True).stdout == "abc123"  # fmt: skip
    info = json.loads(d1.docker("info", "--format", "{{json .Swarm}}", check=True).stdout)
    assert info["Nodes"] == 3 and info["Managers"] == 1

    # promote h3 (it starts an etcd member and may lead), demote it again
    d1.docker("node", "promote", ids[h3.name], check=True)
    wait_for("h3 a reachable manager", lambda: d1.docker(
        "node", "inspect", ids[h3.name], "--format", "{{.ManagerStatus.Reachability}}"
    ).stdout.strip() == "reachable")  # fmt: skip
    assert h3.daemon.docker("node", "ls", "-q", check=True).stdout.split()  # it answers now
    d1.docker("node", "demote", ids[h3.name], check=True)
    wait_for("h3 a worker again", lambda: "This node is not a swarm manager" in h3.daemon.docker(
        "node", "ls").stderr and d1.docker("node", "inspect", ids[h3.name], "--format",
                                           "{{.ManagerStatus}}").stdout.strip() == "<nil>")  # fmt: skip
    r = d1.docker("node", "demote", ids[h1.name])
    assert r.returncode != 0 and "attempting to demote the last manager of the swarm" in r.stderr
