"""Three managers (each an etcd member, added through etcd's member API at join): the
leader's engine SIGKILLed and its link cut leaves a working cluster; the orchestrator
moves to another manager and the lost node's tasks run elsewhere."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.integration.swarm.conftest import tasks, wait_for
from tests.integration.swarm.hosts import Host, cluster_up


@pytest.fixture(scope="module")
def hosts(busybox_rootfs_tar: Path) -> Iterator[list[Host]]:
    if os.geteuid() != 0 or not shutil.which("etcd"):
        pytest.skip("needs root and etcd")
    with cluster_up(3, busybox_rootfs_tar, "dysw-") as hosts:
        yield hosts


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


def test_clients_keep_working_while_the_leader_dies_and_returns(hosts: list[Host]) -> None:
    """4 clients scale and update services while the leader's engine is SIGKILLed and
    restarted; afterwards every service has exactly its desired tasks running and no
    node runs a container whose task is not meant to run there."""
    h1 = hosts[0]
    h1.link(True)
    h1.start()  # back from the previous test: rejoins with its state on disk
    d2 = hosts[1].daemon
    assert d2 is not None
    wait_for("3 ready", lambda: d2.docker("node", "ls", "--format", "{{.Status}}").stdout.split()
             == ["Ready"] * 3, 60)  # fmt: skip
    socks = [h.daemon.host for h in hosts if h.daemon is not None]
    for i in range(4):
        d2.docker("service", "create", "--detach", "--no-resolve-image", "--name", f"c{i}",
                  "--replicas", "1", "--stop-grace-period", "1s", "busybox", "sleep", "100000",
                  check=True)  # fmt: skip
    stop = threading.Event()
    errors: list[str] = []
    updates: list[int] = []

    def client(i: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            c = docker.APIClient(base_url=socks[(i + n) % len(socks)], version="1.41", timeout=20)
            try:
                svc = c.inspect_service(f"c{i}")
                spec = svc["Spec"]
                spec["TaskTemplate"]["ContainerSpec"]["Env"] = [f"N={n}"]
                c.update_service(svc["ID"], svc["Version"]["Index"], name=spec["Name"],
                                 task_template=spec["TaskTemplate"],
                                 mode={"Replicated": {"Replicas": 1 + n % 3}})  # fmt: skip
                updates.append(i)
            except Exception as exc:  # a killed daemon, an election: the client retries
                errors.append(str(exc)[:200])
            finally:
                c.close()

    def leader() -> list[Host]:
        out = []
        for h in hosts:
            if h.daemon is not None and h.daemon.proc.poll() is None:
                ls = h.daemon.docker("node", "ls", "--format", "{{.Self}} {{.ManagerStatus}}")
                if "true Leader" in ls.stdout:
                    out.append(h)
        return out

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        lead = wait_for("a leader", leader, 60)[0]  # type: ignore[index]
        lead.kill()
        others = [h for h in hosts if h is not lead]
        wait_for("another leader", lambda: [h for h in leader() if h is not lead], 60)
        lead.start()
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    d = others[0].daemon
    assert d is not None

    why: list[str] = []

    def converged() -> bool:
        """Every service's desired count of running tasks, each of its current spec; else
        `why` says which service is off and how (its tasks: slot, state, desired, node)."""
        why.clear()
        for i in range(4):
            svc = json.loads(d.docker("service", "inspect", f"c{i}", check=True).stdout)[0]
            want = svc["Spec"]["Mode"]["Replicated"]["Replicas"]
            all_tasks = tasks(d, f"c{i}")
            run = [t for t in all_tasks if t["DesiredState"] == "running"
                   and t["Status"]["State"] == "running"]  # fmt: skip
            stale = [t["Slot"] for t in run if t["Spec"] != svc["Spec"]["TaskTemplate"]]
            if len(run) != want or stale:
                why.append(f"c{i} v{svc['Version']['Index']} {svc.get('UpdateStatus')}: "
                           f"want {want}, running {len(run)}, "
                           f"old spec in slots {stale}; tasks: " + ", ".join(
                               f"{t.get('Slot')}:{t['Status']['State']}/{t['DesiredState']}"
                               f"@{t['NodeID'][:6]}" for t in all_tasks))  # fmt: skip
        return not why

    assert len(updates) >= 4, errors[-5:]
    try:
        wait_for("every service at its desired tasks", converged, 120)
    except AssertionError as e:
        logs = "".join(f"\n--- {h.name}\n" + h.daemon.log_path.read_text()[-3000:]
                       for h in hosts if h.daemon is not None)  # fmt: skip
        raise AssertionError(f"{e}: {why}{logs}") from None
    c = docker.APIClient(base_url=d.host, version="1.41")
    live = {t["Status"]["ContainerStatus"]["ContainerID"]: t["NodeID"] for t in c.tasks()
            if t["DesiredState"] == "running" and t["Status"].get("ContainerStatus")}  # fmt: skip
    c.close()

    def no_orphans() -> bool:
        for h in hosts:
            assert h.daemon is not None
            me = h.daemon.docker("info", "--format", "{{.Swarm.NodeID}}").stdout.strip()
            up = h.daemon.docker("ps", "-q", "--no-trunc", "--filter",
                                 "label=com.docker.swarm.task.id").stdout.split()  # fmt: skip
            if any(live.get(cid) != me for cid in up):
                return False
        return True

    wait_for("no orphan containers", no_orphans, 60)

    # quorum lost: the other two managers cut off; the one left answers dockerd's error
    for h in hosts:
        if h is not others[0]:
            h.link(False)
    r = d.docker("node", "ls", timeout=120)
    assert r.returncode != 0 and "The swarm does not have a leader" in r.stderr, r.stderr
