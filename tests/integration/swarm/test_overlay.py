"""Overlay networks on three test hosts through the official docker CLI: a network made
on a manager, a service's tasks on every node attached to it with cluster-wide unique
addresses, ping and TCP between tasks on different hosts over VXLAN, the service's
names answered by the embedded DNS on every node, and after
`swarm leave --force` no sandbox namespace left on any node."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.swarm.conftest import tasks, wait_for
from tests.integration.swarm.hosts import Host, cluster_up
from tests.integration.swarm.netstate import dump


@pytest.fixture(scope="module")
def hosts(busybox_rootfs_tar: Path) -> Iterator[list[Host]]:
    if os.geteuid() != 0 or not shutil.which("etcd"):
        pytest.skip("needs root and etcd")
    with cluster_up(3, busybox_rootfs_tar, "dyov-") as hosts:
        yield hosts


def overlay_ip(h: Host, cid: str) -> str:
    assert h.daemon is not None
    r = h.daemon.docker("exec", cid, "ip", "-4", "-o", "addr", "show", "dev", "eth1")
    return r.stdout.split()[3].split("/")[0] if r.returncode == 0 and r.stdout.split() else ""


def one_task(h: Host) -> str:
    assert h.daemon is not None
    r = h.daemon.docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name=pinger")
    ids = r.stdout.split()
    return ids[0] if len(ids) == 1 else ""


def sandboxes(h: Host) -> list[str]:
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if f"{h.root}/" in line and "/swarm/overlay/ov-" in line]  # fmt: skip


def test_overlay_across_hosts(hosts: list[Host]) -> None:
    h1, h2, h3 = hosts
    d1 = h1.daemon
    assert d1 is not None and h2.daemon is not None and h3.daemon is not None
    r = d1.docker("swarm", "init", "--advertise-addr", h1.addr, timeout=60)
    assert r.returncode == 0, r.stderr
    token = d1.docker("swarm", "join-token", "-q", "worker", check=True).stdout.strip()
    for h in (h2, h3):
        assert h.daemon is not None
        h.daemon.docker("swarm", "join", "--token", token, f"{h1.addr}:2377", timeout=60,
                        check=True)  # fmt: skip

    r = d1.docker("network", "create", "-d", "overlay", "ovl")
    assert r.returncode == 0, r.stderr
    net_id = r.stdout.strip()
    insp = d1.docker("network", "inspect", "--format",
                     "{{.Driver}} {{.Scope}} {{(index .IPAM.Config 0).Subnet}}", "ovl",
                     check=True).stdout.split()  # fmt: skip
    assert insp == ["overlay", "swarm", "10.0.1.0/24"]
    assert "ovl" in d1.docker("network", "ls", "--filter", "driver=overlay", check=True).stdout
    dup = d1.docker("network", "create", "-d", "overlay", "ovl")
    assert dup.returncode != 0
    # a worker is not a manager: dockerd's refusal
    r = h2.daemon.docker("network", "create", "-d", "overlay", "other")
    assert r.returncode != 0 and "not a swarm manager" in r.stderr

    r = d1.docker("service", "create", "--detach", "--no-resolve-image", "--name", "pinger",
                  "--replicas", "3", "--network", "ovl", "--stop-grace-period", "1s",
                  "busybox", "nc", "-ll", "-p", "7000", "-e", "echo", "hello")  # fmt: skip
    assert r.returncode == 0, r.stderr
    wait_for("3 tasks running, one per node", lambda: len(
        {t["NodeID"] for t in tasks(d1, "pinger") if t["Status"]["State"] == "running"}) == 3,
        timeout=90)  # fmt: skip

    found: dict[str, tuple[Host, str, str]] = {}
    for h in hosts:
        assert h.daemon is not None
        cid = str(wait_for(f"one pinger container on {h.name}", lambda h=h: one_task(h)))
        ip = wait_for(f"{h.name}'s task on the overlay", lambda h=h, cid=cid: overlay_ip(h, cid))
        found[h.name] = (h, cid, str(ip))
    ips = [ip for _, _, ip in found.values()]
    assert len(set(ips)) == 3, ips  # cluster-wide IPAM: no address twice
    assert all(ip.startswith("10.0.1.") for ip in ips)

    for src, cid, _ in found.values():
        assert src.daemon is not None
        for dst, _, ip in found.values():
            if dst is src:
                continue
            r = src.daemon.docker("exec", cid, "ping", "-c", "1", "-W", "5", ip, timeout=30)
            assert r.returncode == 0, f"{src.name} → {dst.name} ({ip}): {r.stdout}{r.stderr}"
            r = src.daemon.docker("exec", cid, "sh", "-c", f"nc -w 5 {ip} 7000 </dev/null",
                                  timeout=30)  # fmt: skip
            assert "hello" in r.stdout, f"TCP {src.name} → {dst.name}: {r.stdout}{r.stderr}"
    assert all(sandboxes(h) for h in hosts)

    # the embedded DNS of every node: tasks.<service> names every task, the service its
    # VIP (the default endpoint mode; test_mesh.py tests the balancing)
    for src, cid, _ in found.values():
        assert src.daemon is not None
        r = src.daemon.docker("exec", cid, "nslookup", "tasks.pinger", timeout=30)
        assert all(ip in r.stdout for ip in ips), f"{src.name} tasks.pinger: {r.stdout}{r.stderr}"
        r = src.daemon.docker("exec", cid, "nslookup", "pinger", timeout=30)
        answer = r.stdout.split("Name:", 1)[-1]
        assert "10.0.1." in answer and not any(ip in answer for ip in ips), r.stdout
        r = src.daemon.docker("exec", cid, "sh", "-c", "nc -w 5 pinger 7000 </dev/null")
        assert "hello" in r.stdout, f"{src.name}: TCP to pinger by name: {r.stdout}{r.stderr}"
    # isolation: a task on another overlay is neither reachable nor named from this one
    d1.docker("network", "create", "-d", "overlay", "apart", check=True)
    d1.docker("service", "create", "--detach", "--no-resolve-image", "--name", "iso",
              "--network", "apart", "busybox", "nc", "-ll", "-p", "7000", "-e", "echo", "hi",
              check=True)  # fmt: skip
    wait_for("iso running", lambda: any(t["Status"]["State"] == "running"
                                        for t in tasks(d1, "iso")))  # fmt: skip
    iso_ip = ""
    for h in hosts:
        assert h.daemon is not None
        ids = h.daemon.docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name=iso",
                              check=True).stdout.split()  # fmt: skip
        if ids:
            iso_ip = str(wait_for("iso's address", lambda h=h, c=ids[0]: overlay_ip(h, c)))
    assert iso_ip and iso_ip not in ips
    for src, cid, _ in found.values():
        assert src.daemon is not None
        r = src.daemon.docker("exec", cid, "sh", "-c", f"nc -w 2 {iso_ip} 7000 </dev/null")
        assert "hi" not in r.stdout, f"{src.name} reached another overlay's task"
        r = src.daemon.docker("exec", cid, "nslookup", "iso")
        assert iso_ip not in r.stdout
    d1.docker("service", "rm", "iso", check=True)

    # --internal: a task on an internal overlay reaches no node address; one on ovl does
    d1.docker("network", "create", "-d", "overlay", "--internal", "shut", check=True)
    d1.docker("service", "create", "--detach", "--no-resolve-image", "--name", "inner",
              "--network", "shut", "busybox", "sleep", "100000", check=True)  # fmt: skip
    wait_for("inner running", lambda: any(t["Status"]["State"] == "running"
                                          for t in tasks(d1, "inner")))  # fmt: skip
    for h in hosts:
        assert h.daemon is not None
        ids = h.daemon.docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name=inner",
                              check=True).stdout.split()  # fmt: skip
        if ids:
            wait_for("inner's address", lambda h=h, c=ids[0]: overlay_ip(h, c))
            r = h.daemon.docker("exec", ids[0], "ping", "-c", "1", "-W", "2", h.addr)
            assert r.returncode != 0, f"a task on an internal overlay reached {h.addr}"
        _, cid, _ = found[h.name]
        # a task on ovl reaches its node (eth0 on docker_gwbridge), though other tasks'
        # ports joined the bridge since it resolved its gateway (test_bridge_mac.py)
        r = h.daemon.docker("exec", cid, "ping", "-c", "3", "-W", "2", h.addr)
        if r.returncode != 0:  # what the kernel had, before the teardown takes it away
            raise AssertionError(f"{h.name}: a task on ovl pinging {h.addr}: {r.stdout}\n"
                                 f"{dump(h, cid)}")  # fmt: skip
    d1.docker("service", "rm", "inner", check=True)
    gw = d1.docker("network", "inspect", "--format", "{{.Driver}}", "docker_gwbridge")
    assert gw.stdout.strip() == "bridge", gw.stderr

    # the network is in use; removing the service releases it and then it can go
    assert d1.docker("network", "rm", "ovl").returncode != 0
    d1.docker("service", "rm", "pinger", check=True)
    wait_for("the sandboxes gone with the last task", lambda: not any(sandboxes(h) for h in hosts))
    wait_for("network rm", lambda: d1.docker("network", "rm", net_id).returncode == 0)

    # a task on a network again, then leave --force everywhere: nothing left
    d1.docker("network", "create", "-d", "overlay", "ovl2", check=True)
    d1.docker("service", "create", "--detach", "--no-resolve-image", "--name", "s2",
              "--replicas", "3", "--network", "ovl2", "busybox", "sleep", "100000",
              check=True)  # fmt: skip
    wait_for("sandboxes on every node", lambda: all(sandboxes(h) for h in hosts), timeout=90)
    for h in (h3, h2, h1):
        assert h.daemon is not None
        h.daemon.docker("swarm", "leave", "--force", timeout=60, check=True)
    assert not any(sandboxes(h) for h in hosts)
