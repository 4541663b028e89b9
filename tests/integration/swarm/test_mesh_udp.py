"""UDP through the ingress routing mesh on two test hosts, through the official docker
CLI, as Docker's docs show it for a DNS-like service: one port published for UDP and
TCP at once (`-p 5353:53/udp -p 5353:53/tcp`). Datagrams to every node's published
port are answered by the tasks on every node, each from a fresh source port (a new flow
each, balanced afresh); TCP on the same port number reaches the same tasks; the
service's Endpoint lists both ports as Docker's does; removing the service leaves no
mesh table on any node.

The test image's busybox has no UDP server (its nc has no -u), so the tasks run a
static answerer compiled from udpecho.c, bind-mounted in from this machine (the hosts
share its filesystem)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.swarm.conftest import tasks, wait_for
from tests.integration.swarm.hosts import Host, cluster_up

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


@pytest.fixture(scope="module")
def udpecho(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc to build the UDP answerer")
    dest = tmp_path_factory.mktemp("udpecho") / "udpecho"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(dest), str(HERE / "udpecho.c")],
                   check=True, capture_output=True)  # fmt: skip
    return dest


@pytest.fixture(scope="module")
def hosts(busybox_rootfs_tar: Path) -> Iterator[list[Host]]:
    if os.geteuid() != 0 or not shutil.which("etcd") or not shutil.which("nft"):
        pytest.skip("needs root, etcd and nft")
    with cluster_up(2, busybox_rootfs_tar, "dyudp-") as hosts:
        yield hosts


def in_ns(h: Host, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", h.name, *cmd], capture_output=True,
                          text=True, timeout=120, cwd=REPO)  # fmt: skip


def ask_udp(src: Host, addr: str, port: int, n: int) -> list[str]:
    """n datagrams from `src`'s namespace: the answers' first words (the answering
    task's hostname), "" where none came within 3 s."""
    r = in_ns(src, sys.executable, "-m", "tests.integration.swarm.udpask", addr, str(port),
              str(n), "3")  # fmt: skip
    assert r.returncode == 0, r.stderr
    return [(a.split() or [""])[0] for a in json.loads(r.stdout)]


def test_udp_through_the_mesh(hosts: list[Host], udpecho: Path) -> None:
    h1, h2 = hosts
    d1, d2 = h1.daemon, h2.daemon
    assert d1 is not None and d2 is not None
    r = d1.docker("swarm", "init", "--advertise-addr", h1.addr, timeout=60)
    assert r.returncode == 0, r.stderr
    token = d1.docker("swarm", "join-token", "-q", "worker", check=True).stdout.strip()
    d2.docker("swarm", "join", "--token", token, f"{h1.addr}:2377", timeout=60, check=True)
    before = {h.name: in_ns(h, "nft", "list", "tables").stdout for h in hosts}

    r = d1.docker("service", "create", "--detach", "--no-resolve-image", "--name", "dns",
                  "--replicas", "2", "--publish", "5353:53/udp", "--publish", "5353:53/tcp",
                  "--mount", f"type=bind,source={udpecho},target=/udpecho,readonly",
                  "--stop-grace-period", "1s", "busybox", "sh", "-c",
                  "/udpecho 53 & exec nc -ll -p 53 -e hostname")  # fmt: skip
    assert r.returncode == 0, r.stderr
    wait_for("2 dns tasks running, one per node", lambda: len(
        {t["NodeID"] for t in tasks(d1, "dns") if t["Status"]["State"] == "running"}) == 2,
        timeout=120)  # fmt: skip
    svc = json.loads(d1.docker("service", "inspect", "dns", check=True).stdout)[0]
    ports = sorted(svc["Endpoint"]["Ports"], key=lambda p: p["Protocol"])
    assert ports == [
        {"Protocol": "tcp", "TargetPort": 53, "PublishedPort": 5353, "PublishMode": "ingress"},
        {"Protocol": "udp", "TargetPort": 53, "PublishedPort": 5353, "PublishMode": "ingress"},
    ], svc["Endpoint"]
    names = set()
    for h in hosts:
        assert h.daemon is not None
        names |= set(h.daemon.docker("ps", "-q", "--filter",
                                     "label=com.docker.swarm.service.name=dns").stdout.split())  # fmt: skip
    assert len(names) == 2, names  # a task's hostname is its container's short id

    # every node's address answers UDP, from the tasks on every node
    for dst in hosts:
        wait_for(f"{dst.name}:5353/udp answering",
                 lambda dst=dst: ask_udp(h2, dst.addr, 5353, 1) != [""])  # fmt: skip
    for src in hosts:
        for dst in hosts:
            got = ask_udp(src, dst.addr, 5353, 20)
            assert "" not in got, f"{src.name} → {dst.name}:5353/udp: {got}"
            assert set(got) == names, f"{src.name} → {dst.name}:5353/udp: {got}"
    # TCP on the same port number reaches the same tasks
    for dst in hosts:
        r = in_ns(
            h1,
            "sh",
            "-c",
            f"for i in $(seq 10); do busybox nc -w 3 {dst.addr} 5353 </dev/null; done",
        )
        got = r.stdout.split()
        assert len(got) == 10 and set(got) <= names, f"{dst.name}:5353/tcp: {got} {r.stderr}"

    d1.docker("service", "rm", "dns", check=True)
    for h in hosts:
        wait_for(f"{h.name}: the mesh's tables gone",
                 lambda h=h: in_ns(h, "nft", "list", "tables").stdout == before[h.name],
                 timeout=30)  # fmt: skip
