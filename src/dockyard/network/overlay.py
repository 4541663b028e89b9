"""The overlay datapath on one node: per network a sandbox namespace (as Docker's
overlay driver) holding a bridge and a VXLAN device; task endpoints are veth pairs from
that bridge into the task's namespace; remote endpoints are static FDB and neighbour
entries on the VXLAN device (no multicast, no learning: the cluster store says where
every endpoint lives, and the device answers ARP from its neighbour table, `proxy`).

The VXLAN device is created in the node's namespace and then moved into the sandbox, so
its UDP socket stays on the node's underlay address while its frames live in the
sandbox (the host's routes never see the overlay's subnet). Everything is done by
exec'ing iproute2 (`ip -batch`, through nsenter for the inside), as netns.py does:
the daemon never changes its own namespace. A MAC is derived from the IP (02:42 +
the four address bytes, as dockerd), so a remote endpoint needs no MAC lookup.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess

from dockyard.api.errors import SystemError_
from dockyard.network import netns

VXLAN_PORT = 4789
MTU = 1450  # the underlay's 1500 less VXLAN's 50 bytes


def mac_of(ip: str) -> str:
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.ip_address(ip).packed)


def _ip(commands: list[str], ns: str | None = None, tool: str = "ip") -> None:
    cmd = [tool, "-batch", "-"]
    if ns:
        cmd = ["nsenter", f"--net={ns}", *cmd]
    p = subprocess.run(cmd, input="\n".join(commands) + "\n", capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemError_(f"overlay network: {p.stderr.strip()}")


class Sandbox:
    """One overlay network's namespace on this node, under `root` (the exec root's
    overlay/ directory: paths are per node, names of devices inside need not be)."""

    def __init__(self, root: str, net_id: str, vni: int, subnet: str, gateway: str) -> None:
        self.path = os.path.join(root, f"ov-{net_id[:12]}")
        self.vni = vni
        self.subnet = ipaddress.ip_network(subnet)
        self.gateway = gateway
        # a node-unique host-side name for the moment between creation and the move
        self._tmp = f"dyvx{vni}"

    def exists(self) -> bool:
        return netns.exists(self.path)

    def ensure(self) -> None:
        if self.exists():
            return
        netns.create(self.path)
        try:
            stale = os.path.exists(f"/sys/class/net/{self._tmp}")  # a crash mid-ensure
            _ip(([f"link del {self._tmp}"] if stale else [])
                + [f"link add {self._tmp} mtu {MTU} type vxlan id {self.vni} dstport {VXLAN_PORT} "
                   "nolearning proxy",
                   f"link set {self._tmp} netns {self.path}"])  # fmt: skip
            # a MAC of its own (locally administered, outside dockerd's 02:42 range that
            # endpoints use): a bridge given none follows its lowest port's as ports come
            # and go (network/links.py _pin_mac says what that broke)
            mac = "06:" + ":".join(f"{b:02x}" for b in os.urandom(5))
            _ip([
                f"link add br0 address {mac} type bridge",
                f"addr add {self.gateway}/{self.subnet.prefixlen} dev br0",
                f"link set {self._tmp} name vxlan0",
                "link set vxlan0 master br0",
                "link set vxlan0 up",
                "link set br0 up",
            ], ns=self.path)  # fmt: skip
        except BaseException:
            self.remove()
            raise

    def remove(self) -> None:
        """The namespace goes, and with it the bridge, the VXLAN device and the
        sandbox ends of the endpoints' veths."""
        netns.remove(self.path)

    def attach(self, ns: str, ifname: str, ip: str, tag: str) -> None:
        """A veth from br0 into the network namespace at path `ns`, named `ifname` there."""
        host, peer = f"dyve{tag}", f"dyvp{tag}"
        prefix = self.subnet.prefixlen
        _ip([f"link add {host} mtu {MTU} type veth peer name {peer} mtu {MTU}",
             f"link set {host} netns {self.path}",
             f"link set {peer} netns {ns}"])  # fmt: skip
        _ip([f"link set {host} master br0", f"link set {host} up"], ns=self.path)
        _ip([f"link set {peer} name {ifname}",
             f"link set {ifname} address {mac_of(ip)}",
             f"addr add {ip}/{prefix} dev {ifname}",
             f"link set {ifname} up"], ns=ns)  # fmt: skip
        # the bridge knows where the address lives now, before the task sends a frame
        _ip([f"fdb replace {mac_of(ip)} dev {host} master static"], ns=self.path, tool="bridge")

    def add_remote(self, ip: str, node_addr: str) -> None:
        """Frames for `ip` go to the node at `node_addr`. The bridge's entry is static
        too: it must not keep a MAC it learned elsewhere (an address moves between nodes
        with its MAC, and a task may send nothing before its first request)."""
        mac = mac_of(ip)
        _ip([f"neigh replace {ip} lladdr {mac} dev vxlan0 nud permanent"], ns=self.path)
        _ip([f"fdb replace {mac} dev vxlan0 dst {node_addr} self permanent",
             f"fdb replace {mac} dev vxlan0 master static"], ns=self.path,
            tool="bridge")  # fmt: skip

    def del_remote(self, ip: str, node_addr: str) -> None:
        """The remote entries go; the bridge's only if it still points at the VXLAN
        device (the kernel checks the port: a local endpoint's entry stays)."""
        mac = mac_of(ip)
        for tool, cmd in (("ip", f"neigh del {ip} dev vxlan0"),
                          ("bridge", f"fdb del {mac} dev vxlan0 dst {node_addr} self"),
                          ("bridge", f"fdb del {mac} dev vxlan0 master")):  # fmt: skip
            try:
                _ip([cmd], ns=self.path, tool=tool)
            except SystemError_:
                pass  # already gone


def drop_default_route(ns: str) -> None:
    """An endpoint on internal overlays only keeps no route off its networks."""
    _ip(["route del default"], ns=ns)


def unplug(ns: str, ifname: str) -> None:
    """Interface `ifname` leaves namespace `ns` (its veth peer in the sandbox goes too)."""
    _ip([f"link del {ifname}"], ns=ns)
