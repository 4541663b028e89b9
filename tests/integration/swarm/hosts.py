"""Test hosts: N dockyardd daemons, each in its own network namespace with its own data
root, exec root, socket and pid file, joined by veths to a bridge in the root namespace.
Addresses (10.x/24) exist inside the namespaces only; names are unique per run
(dysw<4 hex>...). `down` removes daemons, containers, mounts, namespaces and links.

    python -m tests.integration.swarm.hosts up 3 DIR    (scripts/cluster.sh wraps this)
    python -m tests.integration.swarm.hosts down DIR
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import (
    BUSYBOX_PATH,
    Daemon,
    busybox_tar,
    kill_leftovers,
    start_daemon,
    stop_daemon,
)

CLONE_NEWNET = 0x40000000
LEAVE_DEADLINE = 30  # seconds: a leave is a handful of local steps and store calls


def _ip(*args: str, ns: str | None = None) -> None:
    cmd = ["ip", *(["-n", ns] if ns else []), *args]
    subprocess.run(cmd, check=True, capture_output=True)


def _free_subnet() -> ipaddress.IPv4Network:
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    used = [ipaddress.ip_network(w.split()[0]) for w in routes.splitlines() if "/" in w.split()[0]]
    rng = random.SystemRandom()
    while True:
        net = ipaddress.ip_network(f"10.{rng.randrange(200, 250)}.{rng.randrange(256)}.0/24")
        if not any(net.overlaps(u) for u in used):
            return net


def enter_netns(name: str) -> None:
    """preexec_fn: the child joins the namespace before it execs the daemon."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        os._exit(127)
    os.close(fd)


@dataclass
class Host:
    name: str  # the netns
    addr: str
    veth: str  # the root-namespace end
    root: Path
    daemon: Daemon | None = None

    def start(self) -> Daemon:
        self.daemon = start_daemon(self.root, preexec_fn=lambda: enter_netns(self.name))
        return self.daemon

    def kill(self) -> None:
        """SIGKILL, as a crashed engine: its containers keep running."""
        assert self.daemon is not None
        self.daemon.proc.kill()
        self.daemon.proc.wait()

    def link(self, up: bool) -> None:
        _ip("link", "set", self.veth, "up" if up else "down")


class Cluster:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.hosts: list[Host] = []
        self.bridge = ""

    def up(self, n: int, tar: Path | None = None) -> list[Host]:
        tag = f"{random.SystemRandom().randrange(0x10000):04x}"
        self.bridge = f"dysw{tag}"
        net = _free_subnet()
        self._record({"bridge": self.bridge, "hosts": []})
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("link", "set", self.bridge, "up")
        tar = tar or busybox_tar(self.base / "busybox.tar")
        for i in range(1, n + 1):
            name, veth = f"dysw{tag}h{i}", f"dysw{tag}v{i}"
            addr = str(net[i])
            root = self.base / f"h{i}"
            root.mkdir(parents=True, exist_ok=True)
            host = Host(name, addr, veth, root)
            self.hosts.append(host)
            self._record({"bridge": self.bridge, "hosts": [h.__dict__ | {"root": str(h.root),
                          "daemon": None} for h in self.hosts]})  # fmt: skip
            _ip("netns", "add", name)
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
            _ip("link", "set", veth, "master", self.bridge, "up")
            _ip("addr", "add", f"{addr}/24", "dev", "eth0", ns=name)
            _ip("link", "set", "eth0", "up", ns=name)
            _ip("link", "set", "lo", "up", ns=name)
            d = host.start()
            r = d.docker("import", "-c", 'CMD ["sh"]', "-c", f"ENV PATH={BUSYBOX_PATH}",
                         str(tar), "busybox:latest")  # fmt: skip
            assert r.returncode == 0, r.stderr
        return self.hosts

    def _record(self, doc: dict) -> None:  # type: ignore[type-arg]
        (self.base / "cluster.json").write_text(json.dumps(doc))

    def down(self) -> None:
        """Every host leaves and stops; a leave that hangs fails the caller (after the rest
        is gone): a worker's leave once waited 60 s on a log follower (issue 15)."""
        hung: list[str] = []
        for h in self.hosts:
            if h.daemon is not None:
                try:
                    h.daemon.docker("swarm", "leave", "--force", timeout=LEAVE_DEADLINE)
                except subprocess.TimeoutExpired:
                    hung.append(f"{h.name}: {h.daemon.log_path.read_text()[-1500:]}")
                stop_daemon(h.daemon)
            kill_leftovers(h.root)
        teardown(self.base)
        assert not hung, f"docker swarm leave --force hung {LEAVE_DEADLINE} s on " + "\n".join(hung)


def form_swarm(hosts: list[Host]) -> None:
    """The first host inits a swarm, the others join it as workers."""
    first = hosts[0]
    assert first.daemon is not None
    r = first.daemon.docker("swarm", "init", "--advertise-addr", first.addr, timeout=60)
    assert r.returncode == 0, r.stderr + first.daemon.log_path.read_text()[-2000:]
    token = first.daemon.docker("swarm", "join-token", "-q", "worker", check=True).stdout.strip()
    for h in hosts[1:]:
        assert h.daemon is not None
        r = h.daemon.docker("swarm", "join", "--token", token, f"{first.addr}:2377", timeout=60)
        assert r.returncode == 0, r.stderr + h.daemon.log_path.read_text()[-2000:]


@contextlib.contextmanager
def cluster_up(n: int, tar: Path, prefix: str) -> Iterator[list[Host]]:
    """N hosts under a fresh temp dir for a test module; everything gone afterwards."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    c = Cluster(base)
    try:
        yield c.up(n, tar)
    finally:
        c.down()
        shutil.rmtree(base, ignore_errors=True)


def teardown(base: Path) -> None:
    """Everything `up` recorded under `base`, even from another process (a killed run)."""
    try:
        doc = json.loads((base / "cluster.json").read_text())
    except FileNotFoundError:
        return
    for h in doc["hosts"]:
        kill_leftovers(Path(h["root"]))
        subprocess.run(["ip", "netns", "del", h["name"]], capture_output=True)
        subprocess.run(["ip", "link", "del", h["veth"]], capture_output=True)
    subprocess.run(["ip", "link", "del", doc["bridge"]], capture_output=True)
    (base / "cluster.json").unlink()


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "up":
        n, base = int(argv[1]), Path(argv[2] if len(argv) > 2 else "/tmp/dockyard-cluster")
        base.mkdir(parents=True, exist_ok=True)
        c = Cluster(base)
        for h in c.up(n):
            print(f"{h.name} {h.addr} DOCKER_HOST=unix://{h.root}/run/dockyard.sock")
        for h in c.hosts:  # the daemons outlive this process; `down` stops them
            assert h.daemon is not None
            (h.root / "daemon.pid").write_text(str(h.daemon.proc.pid))
        return 0
    if argv and argv[0] == "down":
        base = Path(argv[1] if len(argv) > 1 else "/tmp/dockyard-cluster")
        teardown(base)
        return 0
    print("usage: hosts.py up N [DIR] | down [DIR]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
