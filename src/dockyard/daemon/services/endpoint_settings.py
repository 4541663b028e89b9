"""A container's endpoint on a network as the Engine API shows and asks for it:
the EndpointSettings document of inspect (`NetworkSettings.Networks[name]`) and
the parts of a request that shape the interface (a chosen MAC address, link-local
addresses), kept apart from the network service that plugs veths.

dockerd keeps what the client sent (Links, DriverOpts, IPAMConfig) and fills the
rest (MacAddress, EndpointID, addresses) only once the endpoint exists, at start.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from dockyard.daemon.services import ipv6

# libnetwork gives link-local addresses the whole link-local range's mask
_LINK_LOCAL_PREFIX = {4: 16, 6: 64}


def with_container_mac(config: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """The primary network's endpoint config with the container's `MacAddress`
    (where clients before API 1.44 put it) when the endpoint names none."""
    mac = config.get("MacAddress")
    if mac and not cfg.get("MacAddress"):
        return {**cfg, "MacAddress": mac}
    return cfg


def link_local_ips(cfg: dict[str, Any]) -> list[str]:
    return list((cfg.get("IPAMConfig") or {}).get("LinkLocalIPs") or [])


def needs_own_interface(cfg: dict[str, Any]) -> bool:
    """Whether the endpoint asks for more than a warm sandbox has ready (its own
    address, MAC or link-local addresses)."""
    ipam = cfg.get("IPAMConfig") or {}
    return bool(
        ipam.get("IPv4Address") or ipam.get("IPv6Address") or cfg.get("MacAddress")
        or link_local_ips(cfg)
    )  # fmt: skip


def link_local_commands(cfg: dict[str, Any], ifname: str) -> list[str]:
    """`ip` commands adding the endpoint's link-local addresses to its interface."""
    out = []
    for ip in link_local_ips(cfg):
        addr = ipaddress.ip_address(ip)
        out.append(f"addr add {addr}/{_LINK_LOCAL_PREFIX[addr.version]} dev {ifname}")
    return out


def endpoint_settings(
    c: Any, n: dict[str, Any], cfg: dict[str, Any], ep: dict[str, Any] | None, plen: int
) -> dict[str, Any]:
    """inspect's EndpointSettings for container c on network n: what the client
    asked for (cfg), and the live endpoint (ep) once started."""
    return {
        "IPAMConfig": cfg.get("IPAMConfig"),
        "Links": cfg.get("Links") or None,
        "Aliases": (ep or {}).get("aliases") or cfg.get("Aliases"),
        "MacAddress": ep["mac"] if ep else "",
        "DriverOpts": cfg.get("DriverOpts") or None,
        "GwPriority": 0,
        "NetworkID": n["Id"],
        "EndpointID": ep["endpoint_id"] if ep else "",
        "Gateway": ep["gateway"] if ep else "",
        "IPAddress": ep["ip"] if ep else "",
        "IPPrefixLen": plen if ep else 0,
        **ipv6.settings(ep),
        "DNSNames": [c.name.lstrip("/"), c.id[:12], *((ep or {}).get("aliases") or [])]
        if n["Name"] != "bridge"
        else None,
    }
