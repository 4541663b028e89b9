"""Plain containers and stacks on overlay networks, on three test hosts through the
official docker CLI: `docker run --network` and `network connect` to an attachable
overlay on any node (reaching a service by name and reached by name from other
nodes; a non-attachable overlay refused with dockerd's words; the container's leaving
removes its endpoint on every node)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.swarm.conftest import tasks, wait_for
from tests.integration.swarm.hosts import Host, cluster_up

NOT_ATTACHABLE = (
    "Could not attach to network ovl: rpc error: code = PermissionDenied desc = "
    "network ovl not manually attachable"
)


@pytest.fixture(scope="module")
def hosts(busybox_rootfs_tar: Path) -> Iterator[list[Host]]:
    if os.geteuid() != 0 or not shutil.which("etcd"):
        pytest.skip("needs root and etcd")
    with cluster_up(3, busybox_rootfs_tar, "dystk-") as hosts:
        h1, h2, h3 = hosts
        assert h1.daemon is not None
        h1.daemon.docker("swarm", "init", "--advertise-addr", h1.addr, timeout=60, check=True)
        token = h1.daemon.docker("swarm", "join-token", "-q", "worker", check=True).stdout
        for h in (h2, h3):
            assert h.daemon is not None
            h.daemon.docker("swarm", "join", "--token", token.strip(), f"{h1.addr}:2377",
                            timeout=60, check=True)  # fmt: skip
        yield hosts


def sandbox_fdb(h: Host) -> str:
    """The static FDB entries of every overlay sandbox on host h: remote endpoints'
    MACs and their nodes' addresses (`<mac> dst <addr>`; the bridge's own learnt
    entries left out)."""
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        path = line.split()[4]
        if path.startswith(f"{h.root}/") and "/swarm/overlay/ov-" in path:
            r = os.popen(f"nsenter --net={path} bridge fdb show dev vxlan0 2>/dev/null").read()
            out += [" ".join(x.split()[:3]) for x in r.splitlines() if " dst " in x]
    return "\n".join(out)


def ip_on(h: Host, ref: str, dev: str) -> str:
    assert h.daemon is not None
    r = h.daemon.docker("exec", ref, "ip", "-4", "-o", "addr", "show", "dev", dev)
    return r.stdout.split()[3].split("/")[0] if r.returncode == 0 and r.stdout.split() else ""


def test_attachable_overlay(hosts: list[Host]) -> None:
    h1, h2, h3 = hosts
    d1, d2, d3 = h1.daemon, h2.daemon, h3.daemon
    assert d1 is not None and d2 is not None and d3 is not None
    d1.docker("network", "create", "-d", "overlay", "--attachable", "att", check=True)
    d1.docker("network", "create", "-d", "overlay", "ovl", check=True)
    d1.docker("service", "create", "--detach", "--no-resolve-image", "--name", "echo",
              "--replicas", "3", "--network", "att", "--stop-grace-period", "1s",
              "busybox", "nc", "-ll", "-p", "7000", "-e", "echo", "hello", check=True)  # fmt: skip
    wait_for("3 echo tasks running", lambda: sum(
        t["Status"]["State"] == "running" for t in tasks(d1, "echo")) == 3, timeout=90)  # fmt: skip

    # a non-attachable overlay: dockerd's refusal, for run and for connect
    r = d2.docker("run", "--rm", "--network", "ovl", "busybox", "true")
    assert r.returncode != 0 and NOT_ATTACHABLE in r.stderr, r.stderr

    # a plain container on a worker, on the attachable overlay
    d2.docker("run", "-d", "--name", "c2", "--network", "att", "busybox",
              "nc", "-ll", "-p", "7001", "-e", "echo", "from-c2", check=True)  # fmt: skip
    c2_ip = str(wait_for("c2's overlay address", lambda: ip_on(h2, "c2", "eth1")))
    assert c2_ip.startswith("10.0."), c2_ip
    insp = d2.docker("inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}"
                     "{{$k}}={{$v.IPAddress}} {{end}}{{.HostConfig.NetworkMode}}", "c2",
                     check=True).stdout.split()  # fmt: skip
    assert insp == [f"att={c2_ip}", "att"], insp
    r = d2.docker("exec", "c2", "sh", "-c", "nc -w 5 echo 7000 </dev/null", timeout=30)
    assert "hello" in r.stdout, f"c2 → service echo by name: {r.stdout}{r.stderr}"
    r = d2.docker("network", "connect", "ovl", "c2")
    assert r.returncode != 0 and NOT_ATTACHABLE in r.stderr, r.stderr

    # from another node: a container run on it reaches c2 by name, and a task does too
    r = d3.docker("run", "--rm", "--network", "att", "busybox", "sh", "-c",
                  "nc -w 5 c2 7001 </dev/null; nc -w 5 echo 7000 </dev/null", timeout=60)  # fmt: skip
    assert "from-c2" in r.stdout and "hello" in r.stdout, r.stdout + r.stderr
    task = d1.docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name=echo",
                     check=True).stdout.split()[0]  # fmt: skip
    r = d1.docker("exec", task, "sh", "-c", "nc -w 5 c2 7001 </dev/null", timeout=30)
    assert "from-c2" in r.stdout, f"task on h1 → c2 on h2: {r.stdout}{r.stderr}"

    # network connect / disconnect of a running container on the default bridge (whose
    # resolv.conf stays the host's, as with dockerd: by address)
    d3.docker("run", "-d", "--name", "c3", "busybox", "sleep", "100000", check=True)
    d3.docker("network", "connect", "att", "c3", check=True)
    assert ip_on(h3, "c3", "eth1").startswith("10.0.")
    r = d3.docker("exec", "c3", "sh", "-c", f"nc -w 5 {c2_ip} 7001 </dev/null", timeout=30)
    assert "from-c2" in r.stdout, r.stdout + r.stderr
    d3.docker("network", "disconnect", "att", "c3", check=True)
    assert ip_on(h3, "c3", "eth1") == ""

    # c2's leaving removes its endpoint everywhere: the other nodes' FDBs, the names
    mac = "02:42:" + ":".join(f"{int(b):02x}" for b in c2_ip.split("."))
    assert f"{mac} dst {h2.addr}" in sandbox_fdb(h1)
    d2.docker("rm", "-f", "c2", check=True)
    wait_for("c2's FDB entry gone on h1", lambda: mac not in sandbox_fdb(h1))
    r = d1.docker("exec", task, "nslookup", "c2")
    assert c2_ip not in r.stdout, r.stdout
    d3.docker("rm", "-f", "c3", check=True)
    d1.docker("service", "rm", "echo", check=True)
    wait_for("network att free", lambda: d1.docker("network", "rm", "att").returncode == 0)
    d1.docker("network", "rm", "ovl", check=True)


STACK = """
version: "3.8"
services:
  web:
    image: busybox
    command: ["sleep", "100000"]
    networks: [front]
    deploy: {replicas: 3}
  api:
    image: busybox
    command: ["nc", "-ll", "-p", "9000", "-e", "cat", "/run/secrets/pw", "/etc/cf.txt"]
    networks: [front]
    secrets: [pw]
    configs: [{source: cf, target: /etc/cf.txt}]
    deploy: {replicas: 3}
networks:
  front: {}
secrets:
  pw: {file: ./pw.txt}
configs:
  cf: {file: ./cf.txt}
"""


def running(d, service: str) -> int:  # type: ignore[no-untyped-def]
    return sum(t["Status"]["State"] == "running" and t["DesiredState"] == "running"
               for t in tasks(d, service))  # fmt: skip


def test_stack_deploy(hosts: list[Host], tmp_path: Path) -> None:
    h1, h2, h3 = hosts
    d1 = h1.daemon
    assert d1 is not None
    (tmp_path / "stack.yml").write_text(STACK)
    (tmp_path / "pw.txt").write_text("s3cret\n")
    (tmp_path / "cf.txt").write_text("conf\n")
    deploy = ("stack", "deploy", "-c", str(tmp_path / "stack.yml"), "--resolve-image", "never",
              "st")  # fmt: skip
    r = d1.docker(*deploy, timeout=120)
    assert r.returncode == 0, r.stderr
    for line in ("Creating network st_front", "Creating secret st_pw", "Creating config st_cf",
                 "Creating service st_web", "Creating service st_api"):  # fmt: skip
        assert line in r.stdout, r.stdout
    assert d1.docker("stack", "ls", check=True).stdout.split() == ["NAME", "SERVICES", "st", "2"]
    net = d1.docker("network", "inspect", "--format",
                    '{{.Id}} {{.Scope}} {{index .Labels "com.docker.stack.namespace"}}',
                    "st_front", check=True).stdout.split()  # fmt: skip
    assert net[1:] == ["swarm", "st"], net
    att = d1.docker("service", "inspect", "--format",
                    "{{range .Spec.TaskTemplate.Networks}}{{.Target}} {{.Aliases}}{{end}}",
                    "st_web", check=True).stdout.strip()  # fmt: skip
    assert att == f"{net[0]} [web]", att
    wait_for("3 web and 3 api tasks running", lambda: running(d1, "st_web") == 3
             and running(d1, "st_api") == 3, timeout=120)  # fmt: skip
    out = d1.docker("stack", "services", "--format", "{{.Name}} {{.Replicas}}", "st",
                    check=True).stdout.split("\n")  # fmt: skip
    assert sorted(filter(None, out)) == ["st_api 3/3", "st_web 3/3"], out
    names = d1.docker("stack", "ps", "--format", "{{.Name}}", "st", check=True).stdout.split()
    assert sorted(names) == [f"st_{s}.{i}" for s in ("api", "web") for i in (1, 2, 3)], names

    # on every node: a web task reaches the api by its alias and by the service's name
    for h in hosts:
        assert h.daemon is not None
        ids = h.daemon.docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name=st_web",
                              check=True).stdout.split()  # fmt: skip
        assert ids, f"no web task on {h.name}"
        for name in ("api", "st_api"):
            r = h.daemon.docker("exec", ids[0], "sh", "-c", f"nc -w 5 {name} 9000 </dev/null",
                                timeout=30)  # fmt: skip
            assert r.stdout.split() == ["s3cret", "conf"], (
                f"{h.name} → {name}: {r.stdout}{r.stderr}"
            )

    # a second deploy updates the services in place
    r = d1.docker(*deploy, timeout=120)
    assert r.returncode == 0 and "Updating service st_web" in r.stdout, r.stdout + r.stderr

    r = d1.docker("stack", "rm", "st", timeout=120)
    assert r.returncode == 0, r.stderr
    for line in ("Removing service st_web", "Removing service st_api", "Removing secret st_pw",
                 "Removing config st_cf", "Removing network st_front"):  # fmt: skip
        assert line in r.stdout, r.stdout
    assert d1.docker("stack", "ls", check=True).stdout.split() == ["NAME", "SERVICES"]
    for h in hosts:
        assert h.daemon is not None
        wait_for(f"the stack's containers gone on {h.name}", lambda h=h: not h.daemon.docker(
            "ps", "-aq", "--filter", "label=com.docker.stack.namespace=st").stdout.split())  # fmt: skip
    wait_for("st_front gone", lambda: "st_front" not in d1.docker("network", "ls").stdout)
    r = d1.docker("stack", "ps", "st")
    assert r.returncode != 0 and "nothing found in stack: st" in r.stderr
