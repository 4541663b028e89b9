"""Networks through the official docker CLI against a real dockyardd: user networks
with name resolution and isolation, published ports from the host, none/host modes,
and nothing (bridges, veths, rules, namespaces) left behind."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.conftest import Daemon
from tests.waiting import wait_until


def _name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {line.split(": ")[1].split("@")[0] for line in out.splitlines()}


def _ports_of(bridge: str) -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show", "master", bridge], capture_output=True,
                         text=True).stdout  # fmt: skip
    return {line.split(": ")[1].split("@")[0] for line in out.splitlines()}


def _rules(tag: str) -> list[str]:
    out = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if tag in line]


def _get(url: str, timeout: float = 5) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def cleanup(daemon: Daemon) -> Iterator[list[str]]:
    """Names of containers (c:) and networks (n:) to remove after the test."""
    items: list[str] = []
    yield items
    cs = [i[2:] for i in items if i.startswith("c:")]
    if cs:
        daemon.docker("rm", "-f", *cs)
    for n in [i[2:] for i in items if i.startswith("n:")]:
        daemon.docker("network", "rm", n)


def _run_d(d: Daemon, cleanup: list[str], *args: str) -> str:
    name = _name("c")
    cleanup.append("c:" + name)
    d.docker("run", "-d", "--name", name, *args, check=True)
    return name


def test_user_network_names_aliases_and_isolation(daemon: Daemon, cleanup: list[str]) -> None:
    n1, n2 = _name("net"), _name("net")
    br = f"dy{secrets.token_hex(2)}"
    cleanup += ["n:" + n1, "n:" + n2]
    daemon.docker("network", "create", "-o", f"com.docker.network.bridge.name={br}", n1, check=True)
    daemon.docker("network", "create", "--internal", n2, check=True)
    assert br in _links()
    web = _run_d(daemon, cleanup, "--network", n1, "--network-alias", "www", "busybox",
                 "httpd", "-f", "-p", "80", "-h", "/etc")  # fmt: skip
    r = daemon.docker(
        "run", "--rm", "--network", n1, "busybox", "sh", "-c",
        f"cat /etc/resolv.conf; ping -c1 -W2 {web} && wget -qO- http://www/hostname",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr + r.stdout
    assert "nameserver 127.0.0.11" in r.stdout
    web_id = json.loads(daemon.docker("inspect", web, check=True).stdout)[0]["Id"]
    assert web_id[:12] in r.stdout  # the server's hostname file, fetched by alias
    r = daemon.docker("run", "--rm", "--network", n1, "--link", f"{web}:backend", "busybox",
                      "wget", "-qO-", "http://backend/hostname")  # fmt: skip
    assert r.stdout.strip() == web_id[:12], r.stderr
    ip = json.loads(daemon.docker("inspect", web).stdout)[0]["NetworkSettings"]["Networks"][n1][
        "IPAddress"
    ]
    # another network: the name does not resolve and the address is unreachable
    r = daemon.docker(
        "run", "--rm", "--network", n2, "busybox", "sh", "-c",
        f"nslookup {web} 127.0.0.11 >/dev/null 2>&1 && echo RESOLVED; "
        f"echo GET / | nc -w 2 {ip} 80 && echo REACHED; ip route | grep -q default && "
        "echo ROUTE; echo done",
    )  # fmt: skip
    assert "done" in r.stdout and "RESOLVED" not in r.stdout and "REACHED" not in r.stdout
    assert "ROUTE" not in r.stdout  # --internal: no way out
    # the default bridge cannot reach it either
    r = daemon.docker("run", "--rm", "busybox", "sh", "-c",
                      f"echo GET / | nc -w 2 {ip} 80 && echo REACHED; echo done")  # fmt: skip
    assert "done" in r.stdout and "REACHED" not in r.stdout
    # network inspect lists the endpoint; rm refuses while in use
    ports_of_br = _ports_of(br)
    assert len(ports_of_br) == 1
    net = json.loads(daemon.docker("network", "inspect", n1, check=True).stdout)[0]
    assert web_id in net["Containers"] and net["Options"]
    r = daemon.docker("network", "rm", n1)
    assert r.returncode != 0 and "has active endpoints" in r.stderr
    daemon.docker("rm", "-f", web, check=True)
    daemon.docker("network", "rm", n1, n2, check=True)
    cleanup.clear()
    wait_until(lambda: not (_links() & ({br} | ports_of_br)), "the bridge and its ports gone")
    assert _rules(br) == []


def test_connect_disconnect_running(daemon: Daemon, cleanup: list[str]) -> None:
    n1 = _name("net")
    cleanup.append("n:" + n1)
    daemon.docker("network", "create", "--subnet", "10.251.77.0/24", n1, check=True)
    c = _run_d(daemon, cleanup, "busybox", "sleep", "60")
    daemon.docker("network", "connect", "--ip", "10.251.77.9", "--alias", "pal", n1, c, check=True)
    settings = json.loads(daemon.docker("inspect", c).stdout)[0]["NetworkSettings"]["Networks"]
    assert settings[n1]["IPAddress"] == "10.251.77.9" and "bridge" in settings
    r = daemon.docker("ps", "--filter", f"network={n1}", "--format", "{{.Names}}")
    assert r.stdout.split() == [c]
    r = daemon.docker("run", "--rm", "--network", n1, "busybox", "ping", "-c1", "-W2", "pal")
    assert r.returncode == 0 and "10.251.77.9" in r.stdout, r.stdout + r.stderr
    daemon.docker("network", "disconnect", n1, c, check=True)
    r = daemon.docker("run", "--rm", "--network", n1, "busybox", "ping", "-c1", "-W1", "pal")
    assert r.returncode != 0


def test_published_ports_from_the_host(daemon: Daemon, cleanup: list[str]) -> None:
    port = _free_port()
    c = _run_d(daemon, cleanup, "-p", f"127.0.0.1:{port}:80", "busybox",
               "httpd", "-f", "-p", "80", "-h", "/etc")  # fmt: skip
    cid = json.loads(daemon.docker("inspect", c).stdout)[0]["Id"]
    assert _get(f"http://127.0.0.1:{port}/hostname").strip() == cid[:12]
    r = daemon.docker("port", c, check=True)
    assert r.stdout.strip() == f"80/tcp -> 127.0.0.1:{port}"
    # -P: ephemeral ports for EXPOSEd ones, as `docker port` reports them
    p = _run_d(daemon, cleanup, "-P", "--expose", "80", "busybox",
               "httpd", "-f", "-p", "80", "-h", "/etc")  # fmt: skip
    out = daemon.docker("port", p, "80/tcp", check=True).stdout.split()[0]
    hport = int(out.rsplit(":", 1)[1])
    pid = json.loads(daemon.docker("inspect", p).stdout)[0]["Id"]
    assert _get(f"http://127.0.0.1:{hport}/hostname").strip() == pid[:12]
    assert "->80/tcp" in daemon.docker("ps", "--filter", f"name={p}").stdout
    # hairpin: a container reaches a published port through the host's address
    gw = json.loads(daemon.docker("inspect", p).stdout)[0]["NetworkSettings"]["Gateway"]
    r = daemon.docker("run", "--rm", "busybox", "wget", "-qO-", f"http://{gw}:{hport}/hostname")
    assert r.stdout.strip() == pid[:12], r.stderr
    # the same host port twice is refused
    r = daemon.docker("run", "-d", "--name", _name("c"), "-p", f"127.0.0.1:{port}:80", "busybox")
    cleanup.append("c:" + r.args[4])
    assert r.returncode != 0 and "port is already allocated" in r.stderr


def test_none_host_and_container_modes(daemon: Daemon, cleanup: list[str]) -> None:
    r = daemon.docker("run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net")
    assert r.stdout.split() == ["lo"], r.stderr
    r = daemon.docker("run", "--rm", "--network", "host", "busybox", "ls", "/sys/class/net")
    # the host's interfaces (other tests add and remove veths meanwhile: check stable ones)
    bridge = (daemon.root / ".bridge").read_text()
    assert {"lo", bridge} <= set(r.stdout.split()), r.stdout
    c = _run_d(daemon, cleanup, "--hostname", "shared", "busybox", "sleep", "60")
    ip = json.loads(daemon.docker("inspect", c).stdout)[0]["NetworkSettings"]["IPAddress"]
    r = daemon.docker("run", "--rm", "--network", f"container:{c}", "busybox",
                      "ip", "-o", "-4", "addr")  # fmt: skip
    assert ip in r.stdout


def test_dns_options_and_extra_hosts(daemon: Daemon) -> None:
    r = daemon.docker(
        "run", "--rm", "--dns", "10.9.9.9", "--dns-search", "example.test",
        "--dns-option", "ndots:3", "--add-host", "db:10.1.2.3",
        "--add-host", "gw:host-gateway", "busybox", "cat", "/etc/resolv.conf", "/etc/hosts",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "nameserver 10.9.9.9" in r.stdout and "search example.test" in r.stdout
    assert "options ndots:3" in r.stdout and "10.1.2.3\tdb" in r.stdout
    assert "\tgw" in r.stdout


def test_network_ls_filters_prune(daemon: Daemon, cleanup: list[str]) -> None:
    n = _name("net")
    cleanup.append("n:" + n)
    daemon.docker("network", "create", "--label", "team=net", n, check=True)
    r = daemon.docker("network", "ls", "--filter", "label=team=net", "--format", "{{.Name}}")
    assert r.stdout.split() == [n]
    r = daemon.docker("network", "ls", "--filter", "type=builtin", "--format", "{{.Name}}")
    assert sorted(r.stdout.split()) == ["bridge", "host", "none"]
    r = daemon.docker("network", "prune", "-f", "--filter", "label=team=net", check=True)
    assert n in r.stdout
    assert daemon.docker("network", "inspect", n).returncode != 0
