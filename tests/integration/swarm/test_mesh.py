"""Service VIPs and the ingress routing mesh on three test hosts, through the official
docker CLI: a service's VIP (shown in Endpoint.VirtualIPs, answered for its name) reaches
every task over several connections from every node; `tasks.<service>` names the tasks;
a published port answers on every node's address with responses from tasks on all
nodes; a task that stops leaves every node's balancing; `--endpoint-mode dnsrr` has no
VIP; removing the services leaves no rules and no ingress sandbox on any node."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.swarm.conftest import tasks, wait_for
from tests.integration.swarm.hosts import Host, cluster_up

HTTPD = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"


@pytest.fixture(scope="module")
def hosts(busybox_rootfs_tar: Path) -> Iterator[list[Host]]:
    if os.geteuid() != 0 or not shutil.which("etcd") or not shutil.which("nft"):
        pytest.skip("needs root, etcd and nft")
    with cluster_up(3, busybox_rootfs_tar, "dymesh-") as hosts:
        yield hosts


def in_ns(h: Host, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", h.name, *cmd], capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def ruleset(h: Host) -> str:
    return in_ns(h, "nft", "list", "ruleset").stdout


def web_tasks(h: Host, service: str = "web") -> list[str]:
    assert h.daemon is not None
    r = h.daemon.docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}")
    return r.stdout.split()


def task_table(h: Host, cid: str) -> str:
    assert h.daemon is not None
    pid = h.daemon.docker("inspect", "--format", "{{.State.Pid}}", cid).stdout.strip()
    r = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "nft", "list", "table", "ip",
                        "dockyard_mesh"], capture_output=True, text=True)  # fmt: skip
    return r.stdout


def fetch_many(h: Host, cid: str, url: str, n: int) -> list[str]:
    """n requests from inside a task, one connection each: the hostnames that answered."""
    assert h.daemon is not None
    script = f"for i in $(seq {n}); do timeout 5 wget -q -O - {url} || echo FAIL; done"
    r = h.daemon.docker("exec", cid, "sh", "-c", script, timeout=120)
    return r.stdout.split()


def curl_many(src: Host, url: str, n: int) -> list[str]:
    out = []
    for _ in range(n):
        r = in_ns(src, "curl", "-s", "-m", "3", url)
        out.append(r.stdout.strip() or "FAIL")
    return out


def test_vips_and_routing_mesh(hosts: list[Host]) -> None:
    h1, h2, h3 = hosts
    d1 = h1.daemon
    assert d1 is not None
    before = {h.name: in_ns(h, "nft", "list", "tables").stdout for h in hosts}
    r = d1.docker("swarm", "init", "--advertise-addr", h1.addr, timeout=60)
    assert r.returncode == 0, r.stderr
    token = d1.docker("swarm", "join-token", "-q", "worker", check=True).stdout.strip()
    for h in (h2, h3):
        assert h.daemon is not None
        h.daemon.docker("swarm", "join", "--token", token, f"{h1.addr}:2377", timeout=60,
                        check=True)  # fmt: skip
    d1.docker("network", "create", "-d", "overlay", "ovl", check=True)
    net_id = d1.docker("network", "inspect", "--format", "{{.Id}}", "ovl",
                       check=True).stdout.strip()  # fmt: skip

    r = d1.docker("service", "create", "--detach", "--no-resolve-image", "--name", "web",
                  "--replicas", "3", "--network", "ovl", "--publish", "8080:80",
                  "--stop-grace-period", "1s", "busybox", "sh", "-c", HTTPD)  # fmt: skip
    assert r.returncode == 0, r.stderr
    wait_for("3 web tasks running, one per node", lambda: len(
        {t["NodeID"] for t in tasks(d1, "web") if t["Status"]["State"] == "running"}) == 3,
        timeout=120)  # fmt: skip

    svc = json.loads(d1.docker("service", "inspect", "web", check=True).stdout)[0]
    vips = {v["NetworkID"]: v["Addr"] for v in svc["Endpoint"]["VirtualIPs"]}
    ingress = json.loads(d1.docker("network", "inspect", "ingress", check=True).stdout)[0]
    assert ingress["Ingress"] is True and ingress["Driver"] == "overlay"
    assert set(vips) == {net_id, ingress["Id"]}, svc["Endpoint"]
    assert svc["Endpoint"]["Ports"] == [{"Protocol": "tcp", "TargetPort": 80,
                                         "PublishedPort": 8080, "PublishMode": "ingress"}]
    vip = vips[net_id].split("/")[0]
    assert vip.startswith("10.0.1.")

    found: dict[str, tuple[Host, str]] = {}
    for h in hosts:
        cid = str(wait_for(f"one web task on {h.name}",
                           lambda h=h: (web_tasks(h) or [""])[0]))  # fmt: skip
        found[h.name] = (h, cid)
    names = set()
    for h, cid in found.values():
        assert h.daemon is not None
        wait_for(f"{h.name}: the VIP balanced in the task's namespace",
                 lambda h=h, cid=cid: vip in task_table(h, cid))  # fmt: skip
        r = h.daemon.docker("exec", cid, "nslookup", "web")
        assert vip in r.stdout.split("Name:")[-1], r.stdout
        r = h.daemon.docker("exec", cid, "nslookup", "tasks.web")
        answered = r.stdout.split("Name:", 1)[-1]
        assert vip not in answered and answered.count("10.0.1.") == 3, r.stdout
        got = fetch_many(h, cid, "http://web/", 24)
        assert "FAIL" not in got, f"{h.name}: {got}"
        names |= set(got)
    assert len(names) == 3, names  # every task answered the VIP from every node

    # the routing mesh: every node's address answers, from tasks on every node
    for src in hosts:
        for dst in hosts:
            got = curl_many(src, f"http://{dst.addr}:8080/", 15)
            assert "FAIL" not in got, f"{src.name} → {dst.name}:8080: {got}"
            assert len(set(got)) == 3, f"{src.name} → {dst.name}:8080: {got}"

    # dnsrr: no VIP, the name answers the tasks
    d1.docker("service", "create", "--detach", "--no-resolve-image", "--name", "rr",
              "--endpoint-mode", "dnsrr", "--replicas", "2", "--network", "ovl", "busybox",
              "sleep", "100000", check=True)  # fmt: skip
    wait_for("rr running", lambda: sum(t["Status"]["State"] == "running"
                                       for t in tasks(d1, "rr")) == 2)  # fmt: skip
    rr = json.loads(d1.docker("service", "inspect", "rr", check=True).stdout)[0]
    assert "VirtualIPs" not in rr["Endpoint"], rr["Endpoint"]
    h, cid = found[h1.name]
    assert h.daemon is not None
    r = wait_for("rr named", lambda: (lambda out: out if out.count("10.0.1.") == 2 else "")(
        h.daemon.docker("exec", cid, "nslookup", "rr").stdout.split("Name:", 1)[-1]))  # type: ignore[union-attr]  # fmt: skip
    d1.docker("service", "rm", "rr", check=True)

    # a task that stops leaves the balancing of every node
    h, cid = found[h3.name]
    assert h.daemon is not None
    ip = h.daemon.docker("inspect", "--format",
                         "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", cid)
    gone = h.daemon.docker("exec", cid, "ip", "-4", "-o", "addr").stdout
    task_ip = next(w.split("/")[0] for w in gone.split() if w.startswith("10.0.1."))
    watcher_h, watcher = found[h1.name]
    assert task_ip in task_table(watcher_h, watcher), ip
    t0 = time.monotonic()
    h.daemon.docker("kill", cid, check=True)
    wait_for("the stopped task out of the balancing on another node",
             lambda: task_ip not in task_table(watcher_h, watcher), timeout=10)  # fmt: skip
    print(f"a killed task left another node's balancing after {time.monotonic() - t0:.2f} s")
    got = fetch_many(watcher_h, watcher, "http://web/", 10)
    assert "FAIL" not in got, got

    # removing the service leaves no rule and no ingress sandbox on any node
    d1.docker("service", "rm", "web", check=True)
    for h in hosts:
        wait_for(f"{h.name}: the node's mesh table gone", lambda h=h: "dockyard_mesh"
                 not in ruleset(h), timeout=30)  # fmt: skip
        assert not in_ns(h, "ip", "link", "show", "dyingress0").stdout
        rules = ruleset(h)
        assert "8080" not in rules and vip not in rules and "169.254.77" not in rules, rules
        assert in_ns(h, "nft", "list", "tables").stdout == before[h.name]
