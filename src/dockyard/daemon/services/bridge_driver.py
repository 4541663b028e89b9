"""The bridge driver's host side: a network's Linux bridge made and deleted, the
firewall chains computed from the networks and their endpoints' published ports, and
an endpoint's veth pair plugged into its bridge and configured in the container's
network namespace.

Networks and endpoints stay the network service's (net_records' dicts); this module
gets them as arguments and keeps only the firewall (network/firewall.py). Every call
blocks (netlink, iptables, ip): the service runs them in a thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from dockyard.daemon.services import ipv6
from dockyard.daemon.services.endpoint_settings import link_local_commands
from dockyard.daemon.services.net_records import Endpoints, Record, prefixlen
from dockyard.network import firewall, ipam, links, netns

__all__ = ["BridgeDriver"]


class BridgeDriver:
    def __init__(self, default_bridge: str, iptables: bool, mtu: int) -> None:
        self.fw = firewall.Firewall(default_bridge, iptables)
        self.mtu = mtu

    def ensure_bridge(self, n: Record) -> None:
        cfg = n["IPAM"]["Config"][0]
        links.ensure_bridge(n["_bridge"], cfg["Gateway"], prefixlen(n), self.mtu)
        if (cfg6 := ipv6.config_of(n)) is not None:
            links.ensure_address(
                n["_bridge"], ipv6.gateway(cfg6), ipam.parse_any(cfg6["Subnet"]).prefixlen
            )

    @staticmethod
    def delete_bridge(n: Record) -> None:
        links.delete_link(n["_bridge"])

    def apply_rules(self, nets: Iterable[Record], endpoints: Endpoints) -> None:
        self.fw.apply(self.rules(nets, endpoints))

    @staticmethod
    def rules(nets: Iterable[Record], endpoints: Endpoints) -> list[firewall.NetRules]:
        """Each bridge network's chains: its subnet, isolation, and published ports."""
        out = []
        for n in nets:
            if n["Driver"] != "bridge":
                continue
            nr = firewall.NetRules(
                bridge=n["_bridge"],
                subnet=n["IPAM"]["Config"][0]["Subnet"],
                internal=n["Internal"],
                icc=n["Options"].get("com.docker.network.bridge.enable_icc", "true") != "false",
            )
            for eps in endpoints.values():
                ep = eps.get(n["Id"])
                if ep:
                    for p in ep.get("ports", []):
                        nr.ports.append(firewall.Port(p[0], p[1], p[2], ep["ip"], p[3]))
            out.append(nr)
        return out

    def shutdown(self, nets: Iterable[Record], endpoints: Endpoints) -> None:
        """Rules removed; bridges without live endpoints deleted."""
        self.fw.remove()
        used = {nid for eps in endpoints.values() for nid in eps}
        for n in nets:
            if n["Driver"] == "bridge" and n["Id"] not in used:
                links.delete_bridge_if_unused(n["_bridge"])

    def plug(self, n: Record, ep: dict[str, Any], path: str) -> None:
        """Endpoint ``ep`` as a veth pair from ``n``'s bridge into namespace ``path``."""
        links.add_veth(ep["veth"], ep["ifname"], path, n["_bridge"], self.mtu)

    @staticmethod
    def configure(
        n: Record, ep: dict[str, Any], cfg: dict[str, Any], path: str, primary: bool
    ) -> None:
        """The plugged interface's MAC, addresses (IPv6 too on an IPv6 network),
        link-local addresses and (primary, not internal) the default routes through the
        network's gateways."""
        ifname = ep["ifname"]
        cmds = [
            f"link set {ifname} address {ep['mac']}",
            f"addr add {ep['ip']}/{prefixlen(n)} dev {ifname}",
            *link_local_commands(cfg, ifname),
            f"link set {ifname} up",
        ]
        if primary and not n["Internal"]:
            cmds.append(f"route add default via {ep['gateway']} dev {ifname}")
        cmds += ipv6.commands(ep, ifname, default_route=primary and not n["Internal"])
        netns.run_ip(path, cmds, [ifname, "lo"] if ep.get("ip6") else None)

    @staticmethod
    def unplug(eps: Iterable[dict[str, Any]], path: str) -> None:
        """The endpoints' veths gone, and the namespace ``path`` (with the rest)."""
        for ep in eps:
            links.unplug(ep["veth"])
        if os.path.exists(path):
            netns.remove(path)
