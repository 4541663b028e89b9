"""The ingress sandbox of one node: the namespace the routing mesh passes through (dockerd's
`ingress-sbox`). One leg is a veth to the node (`dyingress0` there, eth0 inside, a
link-local /30 of its own so it never takes an address from a network of the user's);
the other is the sandbox's endpoint on the `ingress` overlay network, attached as a
task's is (network/overlay.py). The node DNATs published ports to the inside address;
the sandbox DNATs them on to the service's tasks (network/vip.py). Forwarding is on in
both, as a router's.
"""

from __future__ import annotations

import os
import subprocess

from dockyard.network import netns
from dockyard.network.overlay import _ip

HOST_IF = "dyingress0"
HOST_IP = "169.254.77.1"
SANDBOX_IP = "169.254.77.2"
PREFIX = 30


def _forwarding(ns: str | None) -> None:
    cmd = ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]
    subprocess.run(["nsenter", f"--net={ns}", *cmd] if ns else cmd, check=True, capture_output=True)


class IngressSandbox:
    def __init__(self, root: str) -> None:
        self.path = os.path.join(root, "ingress_sbox")

    def exists(self) -> bool:
        return netns.exists(self.path)

    def ensure(self) -> None:
        if self.exists():
            return
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        netns.create(self.path)
        try:
            stale = os.path.exists(f"/sys/class/net/{HOST_IF}")  # a crash mid-ensure
            _ip([*([f"link del {HOST_IF}"] if stale else []),
                 f"link add {HOST_IF} type veth peer name dyingress1",
                 f"addr add {HOST_IP}/{PREFIX} dev {HOST_IF}",
                 f"link set {HOST_IF} up",
                 f"link set dyingress1 netns {self.path}"])  # fmt: skip
            _ip(["link set dyingress1 name eth0",
                 f"addr add {SANDBOX_IP}/{PREFIX} dev eth0",
                 "link set eth0 up",
                 f"route add default via {HOST_IP}"], ns=self.path)  # fmt: skip
            _forwarding(self.path)
            _forwarding(None)
        except BaseException:
            self.remove()
            raise

    def remove(self) -> None:
        """The namespace goes and the veth with it (the node's end too)."""
        netns.remove(self.path)
        subprocess.run(["ip", "link", "del", HOST_IF], capture_output=True)
