"""Plain containers and stacks on overlay networks, on three test hosts through the
official docker CLI: `docker run --network` and `network connect` to an attachable
overlay on any node (reaching a service by name and reached by name from other
nodes; a non-attachable overlay refused with dockerd's words; the container's leaving
removes its endpoint on every node); `docker stack deploy|ls|ps|services|rm`; a dead
node's endpoints dropped by the others; `--opt encrypted` refused with the kernel's
reason; after `swarm leave --force` everywhere, each host's devices, routes, firewall
rules, mounts (namespaces) and processes are as before the swarm."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
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
        BEFORE.update({h.name: host_state(h) for h in hosts})
        assert h1.daemon is not None
        h1.daemon.docker("swarm", "init", "--advertise-addr", h1.addr, timeout=60, check=True)
        token = h1.daemon.docker("swarm", "join-token", "-q", "worker", check=True).stdout
        for h in (h2, h3):
            assert h.daemon is not None
            h.daemon.docker("swarm", "join", "--token", token.strip(), f"{h1.addr}:2377",
                            timeout=60, check=True)  # fmt: skip
        yield hosts


BEFORE: dict[str, dict[str, list[str]]] = {}  # each host's state before the swarm


def host_state(h: Host) -> dict[str, list[str]]:
    """What a swarm could leave behind on host h: devices, routes, nftables and iptables
    rules in its namespace, mounts under its root (sandbox namespaces, tmpfs), and
    processes (etcd, containers) other than its daemon."""

    def run(*cmd: str) -> list[str]:
        p = subprocess.run(["ip", "netns", "exec", h.name, *cmd], capture_output=True,
                           text=True)  # fmt: skip
        return sorted(line for line in p.stdout.splitlines()
                      if line.strip() and not line.startswith("#"))  # fmt: skip

    assert h.daemon is not None
    procs = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if str(h.root) in cmd and int(pid) != h.daemon.proc.pid:
                procs.append(cmd)
    devices = [x.split(": ")[1].split("@")[0] for x in run("ip", "-o", "link", "show")]
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
              if f"{h.root}/" in line.split()[4]]  # fmt: skip
    # the default bridge's warm sandboxes (a namespace and a veth each) come and go with
    # the daemon's pool: counted against each other, so a leaked veth still shows
    pool = [m for m in mounts if "/netns/pool-" in m]
    veths = [d for d in devices if d.startswith("veth")]
    return {
        "devices": sorted(d for d in devices if not d.startswith("veth")),
        "veths not pooled": [str(len(veths) - len(pool))],
        # a bridge's route says linkdown while no port is up (the warm pool refilling)
        # (and the pool's veths' own routes come and go with them, IPv6 link-local ones
        # with the daemon's IPv6 settings)
        "routes": [
            x.replace(" linkdown", "")
            for x in run("ip", "route", "show", "table", "all")
            if " dev veth" not in x and "fe80::" not in x
        ],  # fmt: skip
        "nft": [re.sub(r"packets \d+ bytes \d+", "", x) for x in run("nft", "list", "ruleset")],
        "iptables": [re.sub(r"\[\d+:\d+\]", "", x) for x in run("iptables-save")],
        "mounts": sorted(m for m in mounts if m not in pool),
        "processes": sorted(procs),
    }


def sandboxes(h: Host) -> list[str]:
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if f"{h.root}/" in line and "/swarm/overlay/ov-" in line]  # fmt: skip


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
    # (a task that failed and was replaced under load is listed again as history)
    assert sorted(set(names)) == [f"st_{s}.{i}" for s in ("api", "web") for i in (1, 2, 3)], names

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


THREE_TIER = """
version: "3.8"
services:
  front:
    image: busybox
    command: ["nc", "-ll", "-p", "80", "-e", "sh", "-c", "nc -w 5 app 9000 </dev/null"]
    networks: [front]
    ports: [{target: 80, published: 8080, mode: host}]
    deploy: {mode: global}
  app:
    image: busybox
    command: ["nc", "-ll", "-p", "9000", "-e", "sh", "-c", "echo app $$(hostname); nc -w 5 db 5432 </dev/null"]
    networks: [front, back]
    deploy: {replicas: 3}
  db:
    image: busybox
    command: ["nc", "-ll", "-p", "5432", "-e", "cat", "/data/rows"]
    networks: [back]
    volumes: ["dbdata:/data"]
volumes:
  dbdata: {}
networks:
  front: {}
  back: {}
"""


def host_get(h: Host, port: int) -> str:
    """A TCP exchange with h's address from h's own namespace (the test host's side)."""
    code = (f"import socket; s = socket.create_connection(('{h.addr}', {port}), 10); "
            "s.settimeout(10); print(s.makefile().read())")  # fmt: skip
    p = subprocess.run(["ip", "netns", "exec", h.name, sys.executable, "-c", code],
                       capture_output=True, text=True, timeout=30)  # fmt: skip
    return p.stdout


def test_three_tier_stack(hosts: list[Host], tmp_path: Path) -> None:
    """Issue 16's three tiers as far as the mesh has landed: the front end (global, a
    host-mode published port) answers on every node's address and reaches the app by
    name, the app the database; the database is not reachable from the front network."""
    d1 = hosts[0].daemon
    assert d1 is not None
    (tmp_path / "stack.yml").write_text(THREE_TIER)
    d1.docker("stack", "deploy", "-c", str(tmp_path / "stack.yml"), "--resolve-image", "never",
              "tt", timeout=120, check=True)  # fmt: skip
    wait_for("front on 3 nodes, app 3, db 1", lambda: running(d1, "tt_front") == 3
             and running(d1, "tt_app") == 3 and running(d1, "tt_db") == 1, timeout=120)  # fmt: skip
    db = next(h for h in hosts if h.daemon is not None and h.daemon.docker(
        "ps", "-q", "--filter", "label=com.docker.swarm.service.name=tt_db").stdout.split())  # fmt: skip
    assert db.daemon is not None
    dbc = db.daemon.docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name=tt_db",
                           check=True).stdout.split()[0]  # fmt: skip
    db.daemon.docker("exec", dbc, "sh", "-c", "echo row-1 > /data/rows", check=True)
    for h in hosts:
        out = str(wait_for(f"front on {h.addr}:8080", lambda h=h: "row-1" in host_get(h, 8080)
                           and host_get(h, 8080), timeout=30))  # fmt: skip
        assert out.startswith("app "), out
        assert h.daemon is not None
        fc = h.daemon.docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name=tt_front",
                             check=True).stdout.split()[0]  # fmt: skip
        r = h.daemon.docker("exec", fc, "nslookup", "db")
        assert "Name:" not in r.stdout.split("127.0.0.11")[-1], r.stdout
        db_ip = db.daemon.docker("exec", dbc, "ip", "-4", "-o", "addr", "show", "dev", "eth1",
                                 check=True).stdout.split()[3].split("/")[0]  # fmt: skip
        r = h.daemon.docker("exec", fc, "sh", "-c", f"nc -w 2 {db_ip} 5432 </dev/null")
        assert "row-1" not in r.stdout, f"front on {h.name} reached the database"
    d1.docker("stack", "rm", "tt", timeout=120, check=True)
    wait_for("tt's networks gone", lambda: "tt_" not in d1.docker("network", "ls").stdout)


def test_dead_node_endpoints_dropped(hosts: list[Host]) -> None:
    """A node whose engine dies (SIGKILL, link cut): its endpoints and addresses leave
    the store with its lease, and the other nodes drop its FDB entries."""
    h1, h2, h3 = hosts
    d1 = h1.daemon
    assert d1 is not None
    d1.docker("network", "create", "-d", "overlay", "dn", check=True)
    d1.docker("service", "create", "--detach", "--no-resolve-image", "--name", "dn",
              "--replicas", "3", "--network", "dn", "--stop-grace-period", "1s",
              "busybox", "sleep", "100000", check=True)  # fmt: skip
    wait_for("dn on every node", lambda: len({t["NodeID"] for t in tasks(d1, "dn")
             if t["Status"]["State"] == "running"}) == 3, timeout=90)  # fmt: skip
    wait_for("h1 knows h3's endpoint", lambda: f"dst {h3.addr}" in sandbox_fdb(h1))
    wait_for("h2 knows h3's endpoint", lambda: f"dst {h3.addr}" in sandbox_fdb(h2))
    h3.kill()
    h3.link(False)
    wait_for("h3's endpoints dropped on h1 and h2", lambda: not any(
        f"dst {h3.addr}" in sandbox_fdb(h) for h in (h1, h2)), timeout=30)  # fmt: skip
    wait_for("dn running 3 again", lambda: running(d1, "dn") == 3, timeout=90)
    # the engine comes back (and takes part in the leave test below)
    h3.link(True)
    h3.start()
    wait_for("h3 ready again", lambda: d1.docker("node", "ls", "--format", "{{.Status}}")
             .stdout.split() == ["Ready"] * 3, timeout=60)  # fmt: skip
    d1.docker("service", "rm", "dn", check=True)
    wait_for("no sandbox left on any node", lambda: not any(sandboxes(h) for h in hosts),
             timeout=120)  # fmt: skip


def test_encrypted_refused(hosts: list[Host]) -> None:
    d1 = hosts[0].daemon
    assert d1 is not None
    r = d1.docker("network", "create", "-d", "overlay", "--opt", "encrypted", "sec")
    assert r.returncode != 0 and "encrypted overlay networks" in r.stderr, r.stderr
    probe = subprocess.run(["unshare", "--net", "ip", "xfrm", "state", "add", "src", "192.0.2.1",
                            "dst", "192.0.2.2", "proto", "esp", "spi", "0x100", "mode",
                            "transport", "aead", "rfc4106(gcm(aes))", "0x" + "11" * 20, "128"],
                           capture_output=True, text=True)  # fmt: skip
    if probe.returncode != 0:  # this kernel cannot: the refusal quotes it
        assert probe.stderr.strip() in r.stderr, r.stderr
    assert "sec" not in d1.docker("network", "ls", "--format", "{{.Name}}").stdout.split()


def test_leave_leaves_nothing(hosts: list[Host]) -> None:
    """Last: tasks, an attachable container and a stack's networks on every node, then
    `swarm leave --force` on each; every host is as it was before the swarm."""
    h1, h2, h3 = hosts
    d1 = h1.daemon
    assert d1 is not None
    d1.docker("network", "create", "-d", "overlay", "--attachable", "last", check=True)
    d1.docker("service", "create", "--detach", "--no-resolve-image", "--name", "last",
              "--replicas", "3", "--network", "last", "--stop-grace-period", "1s",
              "busybox", "sleep", "100000", check=True)  # fmt: skip
    wait_for("last on every node", lambda: len({t["NodeID"] for t in tasks(d1, "last")
             if t["Status"]["State"] == "running"}) == 3, timeout=90)  # fmt: skip
    assert h2.daemon is not None
    h2.daemon.docker("run", "--rm", "--network", "last", "busybox", "true", check=True)
    for h in (h3, h2, h1):
        assert h.daemon is not None
        h.daemon.docker("swarm", "leave", "--force", timeout=60, check=True)
    for h in hosts:
        with contextlib.suppress(AssertionError):
            wait_for(f"{h.name} as before", lambda h=h: host_state(h) == BEFORE[h.name])
        now, was = host_state(h), BEFORE[h.name]
        diff = {k: {"gone": sorted(set(was[k]) - set(now[k])),
                    "left": sorted(set(now[k]) - set(was[k]))}
                for k in now if now[k] != was[k]}  # fmt: skip
        assert h.daemon is not None
        assert not diff, f"{h.name}: {diff}; " + h.daemon.docker("ps", "-a", "--no-trunc").stdout
