"""A container's endpoint on a network as the Engine API shows and asks for it:
the EndpointSettings document of inspect (`NetworkSettings.Networks[name]`), the
NetworkSettings around them, and the parts of a request that shape the interface (a
chosen MAC address, link-local addresses) or that dockerd refuses, kept apart from
the network service that plugs veths.

dockerd keeps what the client sent (Links, DriverOpts, IPAMConfig) and fills the
rest (MacAddress, EndpointID, addresses) only once the endpoint exists, at start.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any

from dockyard.api.errors import Forbidden, InvalidParameter
from dockyard.daemon.services import ipv6
from dockyard.daemon.services.net_records import prefixlen
from dockyard.network import ports

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


def refuse_on_default_bridge(cfg: dict[str, Any]) -> None:
    """What dockerd refuses in an endpoint config on the default bridge."""
    if cfg.get("IPAMConfig"):
        raise InvalidParameter(
            "user specified IP address is supported on user defined networks only"
        )
    if cfg.get("Aliases"):
        raise InvalidParameter(
            "network-scoped alias is supported only for containers in user defined networks"
        )


def refuse_connect(mode: str, n: dict[str, Any], cfg: dict[str, Any]) -> None:
    """What dockerd refuses at `network connect` of a container in NetworkMode ``mode``
    to network ``n`` with endpoint config ``cfg`` (403s, its wording)."""
    if mode in ("host", "none") or mode.startswith("container:") or n["Driver"] != "bridge":
        raise Forbidden(
            "container cannot be disconnected from host network or connected to host network"
        )
    if n["Name"] == "bridge" and (cfg.get("Aliases") or cfg.get("IPAMConfig")):
        raise Forbidden(
            "network-scoped alias is supported only for containers in user defined networks"
        )


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


def network_settings(
    c: Any,
    wanted: list[tuple[dict[str, Any], dict[str, Any]]],
    live: dict[str, dict[str, Any]],
    sandbox_key: str,
) -> dict[str, Any]:
    """inspect's NetworkSettings for container c: an EndpointSettings per network it
    asked for (``wanted``: record and endpoint config), filled from its ``live``
    endpoints (by network id; none when it is not running); the primary network's
    address at the top level, as the default bridge shows it."""
    mode = c.host_config.get("NetworkMode") or "default"
    nets: dict[str, Any] = {}
    bindings: list[ports.Binding] = []
    for n, cfg in wanted:
        ep = live.get(n["Id"])
        nets[n["Name"]] = endpoint_settings(c, n, cfg, ep, prefixlen(n))
        if ep:
            bindings += [ports.Binding(p[0], p[3], p[1], p[2]) for p in ep.get("ports", [])]
    first = next(iter(nets.values()), {}) if mode == "default" or mode == "bridge" else {}
    return {
        "Bridge": "",
        "SandboxID": hashlib.sha256(c.id.encode()).hexdigest() if live else "",
        "SandboxKey": sandbox_key if live else "",
        "Ports": ports.ports_view(bindings, c.config.get("ExposedPorts")) if c.running else {},
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Gateway": first.get("Gateway", ""),
        "IPAddress": first.get("IPAddress", ""),
        "IPPrefixLen": first.get("IPPrefixLen", 0),
        "MacAddress": first.get("MacAddress", ""),
        **{k: first.get(k, empty) for k, empty in ipv6.settings(None).items()},
        "Networks": nets,
    }
