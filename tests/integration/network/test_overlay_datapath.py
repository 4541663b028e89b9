"""The overlay datapath of network/overlay.py on two nodes made of network namespaces
(each node a namespace with an underlay address, joined by a veth pair), driven
through `Sandbox` as the cluster agent drives it: VXLAN between the nodes' sandboxes,
static FDB and neighbour entries for remote endpoints.

An address released on one node is handed out again at once (cluster/overlay.py's
IPAM), often to a task on another node, and a task's MAC follows its address. The
sandbox's bridge must then deliver to where the address lives now, even to a task
that never sends a frame of its own (a web server waiting for its first request):
a bridge that learned the MAC on the VXLAN port while the address was remote would
otherwise keep sending its frames there for its ageing time (300 s).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.network import netns

SUBNET = "10.199.0.0/24"
GATEWAY = "10.199.0.1"
VNI = 4321


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd}: {r.stderr}")
    return r


class Node:
    """A node: a named netns with an underlay address, its sandboxes under `root`."""

    def __init__(self, name: str, addr: str, root: Path) -> None:
        self.name, self.addr, self.root = name, addr, root

    def sandbox(self, code: str) -> None:
        """Run `code` with `sb` (this node's Sandbox) in the node's network namespace,
        as the node's daemon would (nsenter: the host's mounts stay visible)."""
        prog = ("from dockyard.network.overlay import Sandbox\n"
                f"sb = Sandbox({str(self.root)!r}, 'net0123456789ab', {VNI}, {SUBNET!r}, "
                f"{GATEWAY!r})\n{code}\n")  # fmt: skip
        run("nsenter", f"--net=/run/netns/{self.name}", sys.executable, "-c", prog)

    def task(self, name: str, ip: str) -> str:
        """A task's namespace, made as the engine makes a container's (IPv6 off: it
        sends nothing until asked), attached with address `ip`; its path."""
        path = str(self.root / name)
        netns.create(path)
        self.sandbox(f"sb.attach({path!r}, 'eth1', {ip!r}, {name!r})")
        return path


@pytest.fixture
def nodes() -> Iterator[tuple[Node, Node]]:
    if os.geteuid() != 0 or not shutil.which("bridge") or not shutil.which("busybox"):
        pytest.skip("needs root, iproute2 and busybox")
    tag = os.urandom(2).hex()
    base = Path(tempfile.mkdtemp(prefix="dyovdp-"))
    a = Node(f"dyod{tag}a", "192.168.251.1", base / "a")
    b = Node(f"dyod{tag}b", "192.168.251.2", base / "b")
    made: list[str] = []
    try:
        for n in (a, b):
            n.root.mkdir()
            run("ip", "netns", "add", n.name)
            made.append(n.name)
            run("ip", "netns", "exec", n.name, "ip", "link", "set", "lo", "up")
        run("ip", "link", "add", f"dyod{tag}x", "netns", a.name, "type", "veth", "peer", "name",
            f"dyod{tag}y", "netns", b.name)  # fmt: skip
        for n, dev in ((a, f"dyod{tag}x"), (b, f"dyod{tag}y")):
            run("ip", "netns", "exec", n.name, "ip", "addr", "add", f"{n.addr}/24", "dev", dev)
            run("ip", "netns", "exec", n.name, "ip", "link", "set", dev, "up")
        yield a, b
    finally:
        for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
            if f" {base}/" in line:
                subprocess.run(["umount", "-l", line.split()[4]], capture_output=True)
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def ping(task: str, ip: str, wait: int = 2) -> bool:
    r = subprocess.run(["nsenter", f"--net={task}", "busybox", "ping", "-c", "1", "-W", str(wait), ip],
                       capture_output=True, text=True)  # fmt: skip
    return r.returncode == 0


def test_an_address_moved_from_a_remote_to_a_silent_local_task(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    for n in (a, b):
        n.sandbox("sb.ensure()")
    t1 = a.task("ta1", "10.199.0.10")
    tb = b.task("tb1", "10.199.0.20")
    a.sandbox(f"sb.add_remote('10.199.0.20', {b.addr!r})")
    b.sandbox(f"sb.add_remote('10.199.0.10', {a.addr!r})")
    assert ping(t1, "10.199.0.20"), "no way across the overlay"  # a's bridge sees .20 behind VXLAN

    # .20's task on b goes; its address is handed to a new task on a, which sends nothing
    netns.remove(tb)
    a.sandbox(f"sb.del_remote('10.199.0.20', {b.addr!r})")
    b.sandbox(f"sb.del_remote('10.199.0.10', {a.addr!r})")
    ta2 = a.task("ta2", "10.199.0.20")
    a.sandbox(f"sb.del_remote('10.199.0.20', {b.addr!r})")  # a watch event handled late
    assert ping(t1, "10.199.0.20"), bridge_fdb(a)

    # and back: the address goes to a new task on b, a's bridge sends its frames across
    netns.remove(ta2)
    b.task("tb2", "10.199.0.20")
    a.sandbox(f"sb.add_remote('10.199.0.20', {b.addr!r})")
    b.sandbox(f"sb.add_remote('10.199.0.10', {a.addr!r})")
    assert ping(t1, "10.199.0.20"), bridge_fdb(a)


def bridge_fdb(n: Node) -> str:
    return run("nsenter", f"--net={n.root}/ov-net012345678", "bridge", "fdb", "show", "br",
               "br0", check=False).stdout  # fmt: skip


def test_the_sandbox_bridge_keeps_its_mac(nodes: tuple[Node, Node]) -> None:
    """A bridge given no MAC takes its lowest port's and changes it as ports come and go
    (the gateway's way out of issue 18); a sandbox's bridge keeps the one it was made with."""
    a, _ = nodes
    a.sandbox("sb.ensure()")

    def mac() -> str:
        out = run("nsenter", f"--net={a.root}/ov-net012345678", "ip", "-br", "link", "show",
                  "br0").stdout.split()  # fmt: skip
        return out[2]

    first = mac()
    a.task("tm1", "10.199.0.30")
    # the sandbox end of its veth gets the lowest address a port can have
    run("nsenter", f"--net={a.root}/ov-net012345678", "ip", "link", "set", "dyvetm1",
        "address", "02:00:00:00:00:01")  # fmt: skip
    assert mac() == first
