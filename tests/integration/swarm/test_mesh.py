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
import sys
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


@pytest.fixture(scope="module")
def swarm(hosts: list[Host]) -> dict[str, str]:
    """The three hosts in one swarm with an overlay `ovl`; what each node's nft tables
    were before (to compare at the end)."""
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
    return before


def test_vips_and_routing_mesh(hosts: list[Host], swarm: dict[str, str]) -> None:
    h1, h2, h3 = hosts
    d1 = h1.daemon
    assert d1 is not None
    before = swarm
    net_id = d1.docker("network", "inspect", "--format", "{{.Id}}", "ovl",
                       check=True).stdout.strip()  # fmt: skip
    for h in hosts:  # made at swarm init, as dockerd: every node lists it before any service
        assert h.daemon is not None
        r = h.daemon.docker("network", "ls", "--filter", "driver=overlay", "--format",
                            "{{.Name}} {{.Scope}}")  # fmt: skip
        assert "ingress swarm" in r.stdout.splitlines(), r.stdout

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
            assert len(set(got)) == 3, f"{src.name} → {dst.name}:8080: {got}"  # round robin

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


REPO = Path(__file__).resolve().parents[3]
HEALTHY_HTTPD = ("mkdir -p /www && hostname > /www/index.html && touch /www/ok && "
                 "exec httpd -f -p 80 -h /www")  # fmt: skip


def diagnose(hosts: list[Host], urls: list[str]) -> str:
    out = [f"{u}: {curl_many(hosts[1], u, 1)}" for u in urls]
    for h in hosts:
        out.append(f"--- {h.name}\n{ruleset(h)}")
        sbox = next((line.split()[4] for line in Path("/proc/self/mountinfo").read_text()
                     .splitlines() if f"{h.root}/" in line and "ingress_sbox" in line), "")  # fmt: skip
        r = subprocess.run(["nsenter", f"--net={sbox}", "sh", "-c", "nft list ruleset; ip -4 a"],
                           capture_output=True, text=True)  # fmt: skip
        out.append(f"sandbox: {r.stdout}{r.stderr}")
        log = (h.root / "dockyardd.log").read_text().splitlines()
        out.extend(line for line in log if "mesh" in line or "overlay" in line
                   or "Error" in line)  # fmt: skip
    return "\n".join(out)


class Load:
    """The load generator running in a host's namespace against every node's port."""

    def __init__(self, src: Host, urls: list[str], tmp: Path, rate: int = 20,
                 timeout: float = 3) -> None:  # fmt: skip
        self.stop_file = tmp / f"stop-{os.urandom(3).hex()}"
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", src.name, sys.executable, "-m",
             "tests.integration.swarm.loadgen", str(self.stop_file), "600", str(rate),
             str(timeout), *urls],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.t0 = time.monotonic()

    def finish(self) -> dict:  # type: ignore[type-arg]
        self.stop_file.touch()
        out, _ = self.proc.communicate(timeout=60)
        return json.loads(out)  # type: ignore[no-any-return]


def running_healthy(d: object, service: str, n: int, env: str) -> bool:
    ts = [t for t in tasks(d, service)  # type: ignore[arg-type]
          if t["DesiredState"] == "running" and t["Status"]["State"] == "running"]
    fresh = [t for t in ts if not env or env in (t["Spec"]["ContainerSpec"].get("Env") or [])]
    return len(ts) == n and len(fresh) == n


def test_rolling_update_behind_the_mesh(hosts: list[Host], swarm: dict[str, str],
                                        tmp_path: Path) -> None:  # fmt: skip
    """A start-first rolling update of 6 replicas with health checks under load through
    every node's published port: no request fails. Then a task that turns unhealthy
    leaves the balancing."""
    d1 = hosts[0].daemon
    assert d1 is not None
    d1.docker("service", "create", "--detach", "--no-resolve-image", "--name", "roll",
              "--replicas", "6", "--network", "ovl", "--publish", "8081:80", "--env", "V=1",
              "--health-cmd", "test -f /www/ok", "--health-interval", "1s",
              "--health-retries", "1", "--stop-grace-period", "1s",
              "--update-order", "start-first", "--update-parallelism", "2",
              "busybox", "sh", "-c", HEALTHY_HTTPD, check=True)  # fmt: skip
    wait_for("6 healthy roll tasks", lambda: running_healthy(d1, "roll", 6, "V=1"), timeout=180)
    urls = [f"http://{h.addr}:8081/" for h in hosts]
    try:
        wait_for("the mesh answering on every node",
                 lambda: all(curl_many(hosts[1], u, 1) != ["FAIL"] for u in urls))  # fmt: skip
    except AssertionError:
        raise AssertionError(diagnose(hosts, urls)) from None
    load = Load(hosts[1], urls, tmp_path)
    try:
        r = d1.docker("service", "update", "--detach", "--env-add", "V=2", "roll", timeout=60)
        assert r.returncode == 0, r.stderr
        wait_for("the update done", lambda: running_healthy(d1, "roll", 6, "V=2"), timeout=300)
    finally:
        result = load.finish()
    print(f"rolling update under load: {result['ok']} requests answered, "
          f"{result['failed']} failed")  # fmt: skip
    assert result["ok"] > 0
    assert result["failed"] == 0, result["failures"]

    # a task that turns unhealthy leaves every node's balancing
    h = hosts[2]
    assert h.daemon is not None
    cid = web_tasks(h, "roll")[0]
    task_ip = next(w.split("/")[0] for w in h.daemon.docker(
        "exec", cid, "ip", "-4", "-o", "addr", check=True).stdout.split()
        if w.startswith("10.0.1."))  # fmt: skip
    watcher_h = hosts[0]
    watcher = web_tasks(watcher_h, "roll")[0]
    wait_for("the task balanced to", lambda: task_ip in task_table(watcher_h, watcher))
    h.daemon.docker("exec", cid, "rm", "/www/ok", check=True)
    wait_for("the unhealthy task out of another node's balancing",
             lambda: task_ip not in task_table(watcher_h, watcher), timeout=30)  # fmt: skip
    d1.docker("service", "rm", "roll", check=True)


def test_node_lost_under_load(hosts: list[Host], swarm: dict[str, str], tmp_path: Path) -> None:
    """A node's engine SIGKILLed and its link cut while the mesh is under load: requests
    to the other nodes' published port fail for a bounded window, then all succeed."""
    d1 = hosts[0].daemon
    assert d1 is not None
    d1.docker("service", "create", "--detach", "--no-resolve-image", "--name", "lost",
              "--replicas", "6", "--network", "ovl", "--publish", "8082:80",
              "--stop-grace-period", "1s", "busybox", "sh", "-c", HTTPD,
              check=True)  # fmt: skip
    wait_for("6 lost tasks", lambda: running_healthy(d1, "lost", 6, ""), timeout=180)
    survivors = hosts[:2]
    urls = [f"http://{h.addr}:8082/" for h in survivors]
    wait_for("the mesh answering", lambda: all(curl_many(hosts[1], u, 1) != ["FAIL"]
                                               for u in urls))  # fmt: skip
    victim = hosts[2]
    assert victim.daemon is not None
    victim_id = victim.daemon.docker("info", "--format", "{{.Swarm.NodeID}}").stdout.strip()
    assert victim_id
    load = Load(hosts[1], urls, tmp_path, timeout=1)  # a short timeout: a finer window
    try:
        wait_for("the load under way", lambda: time.monotonic() - load.t0 > 2)
        lost_at = time.monotonic() - load.t0
        victim.kill()
        victim.link(False)
        wait_for("the lost node's tasks replaced", lambda: sum(
            t["DesiredState"] == "running" and t["Status"]["State"] == "running"
            and t["NodeID"] != victim_id for t in tasks(d1, "lost")) == 6,
            timeout=120)  # fmt: skip
        replaced = time.monotonic() - load.t0 - lost_at
        wait_for("every survivor's port answering", lambda: all(
            "FAIL" not in curl_many(hosts[0], u, 6) for u in urls))  # fmt: skip
        converged = time.monotonic() - load.t0
        wait_for("the load past convergence", lambda: time.monotonic() - load.t0 > converged + 3)
    finally:
        result = load.finish()
        victim.link(True)
    fails = result["failures"]
    window = (fails[-1][0] + 1 - fails[0][0]) if fails else 0.0  # + the client's timeout
    print(f"node lost under load: {result['ok']} answered, {result['failed']} failed; "
          f"failures began {fails[0][0] - lost_at if fails else 0:.1f} s after the loss and "
          f"lasted {window:.1f} s; tasks replaced after {replaced:.1f} s")  # fmt: skip
    assert result["ok"] > 0
    assert all(f[0] < converged for f in fails), fails  # none once the cluster converged
    d1.docker("service", "rm", "lost", check=True)
