"""IPv6 on bridge networks (issue 12): a network's IPv6 pool (`network create
--ipv6 --subnet fd..::/64`), each endpoint's IPv6 address (`--ip6` or the next free
one, in order from ::2 as libnetwork hands them out), the `ip` commands that put
it in the container's namespace, and the fields inspect shows.

Kept apart from the network service, which calls it at create, join and view.
As dockerd 20.10 without `--ip6tables`: IPv6 is routed, not NATed, and no ip6tables
rules are made; the host's forwarding sysctls are left alone (a host that routes
IPv6 for containers must say so itself: turning `all.forwarding` on stops the
host's own router advertisements being accepted).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from dockyard.api.errors import Forbidden, InvalidParameter
from dockyard.network import ipam

NO_POOL = (
    "could not find an available, non-overlapping IPv6 address pool among the defaults "
    "to assign to the network"
)
NO_USER_SUBNET = (
    "user specified IP address is supported only when connecting to networks with user "
    "configured subnets"
)


def split_configs(
    configs: Iterable[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A create body's IPAM configs as (IPv4, IPv6), by their subnet's family."""
    v4: list[dict[str, Any]] = []
    v6: list[dict[str, Any]] = []
    for cfg in configs:
        (v6 if ":" in (cfg.get("Subnet") or "") else v4).append(cfg)
    return v4, v6


def pool(configs: list[dict[str, Any]], used: Iterable[str]) -> dict[str, Any]:
    """The IPAM config of a network made with EnableIPv6: the client's IPv6 subnet,
    checked as dockerd checks it. There is no default IPv6 pool (dockerd 20.10 has
    none either)."""
    if not configs:
        raise Forbidden(NO_POOL)
    cfg = configs[0]
    net = ipam.parse_any(cfg["Subnet"])
    if any(net.overlaps(ipam.parse_any(u)) for u in used):
        raise Forbidden("invalid pool request: Pool overlaps with other one on this address space")
    out: dict[str, Any] = {"Subnet": str(net)}
    if cfg.get("IPRange"):
        r = ipam.parse_any(cfg["IPRange"])
        if r.version != 6 or not r.subnet_of(net):  # type: ignore[arg-type]
            raise InvalidParameter(f"invalid ip-range {cfg['IPRange']}: not in subnet {net}")
        out["IPRange"] = str(r)
    if cfg.get("Gateway"):
        try:
            gw = ipaddress.ip_address(cfg["Gateway"])
        except ValueError:
            raise InvalidParameter(f"invalid gateway {cfg['Gateway']}") from None
        if gw not in net:
            raise InvalidParameter(f"no matching subnet for gateway {cfg['Gateway']}")
        out["Gateway"] = str(gw)
    return out


def config_of(n: dict[str, Any]) -> dict[str, Any] | None:
    """A network record's IPv6 IPAM config, None when it has no IPv6."""
    if not n.get("EnableIPv6"):
        return None
    return next((c for c in n["IPAM"]["Config"] if ":" in c.get("Subnet", "")), None)


def subnets(nets: Iterable[dict[str, Any]]) -> list[str]:
    return [c["Subnet"] for n in nets if (c := config_of(n)) is not None]


def gateway(cfg: dict[str, Any]) -> str:
    """The bridge's IPv6 address: the one given, else the subnet's first (::1)."""
    return cfg.get("Gateway") or str(ipam.parse_any(cfg["Subnet"]).network_address + 1)


def fixed_cidr(enabled: bool, cidr: str) -> str:
    """The daemon's `--ipv6 --fixed-cidr-v6` as the default bridge's IPv6 subnet ("" for
    none); a bad one stops the daemon, as dockerd."""
    if not (enabled and cidr):
        return ""
    try:
        net = ipaddress.IPv6Network(cidr, strict=False)
    except ValueError:
        raise SystemExit(f"dockyardd: invalid --fixed-cidr-v6 {cidr!r}") from None
    return str(net)


def set_default_bridge(rec: dict[str, Any], cidr: str) -> None:
    """The default bridge's record with the daemon's IPv6 subnet, or without IPv6
    (the flags may change between starts)."""
    rec["IPAM"]["Config"] = [c for c in rec["IPAM"]["Config"] if ":" not in c["Subnet"]]
    rec["EnableIPv6"] = bool(cidr)
    if cidr:
        rec["IPAM"]["Config"].append({"Subnet": cidr})


def _from_mac(cfg: dict[str, Any], mac: str) -> str:
    """libnetwork's bridge driver on the default bridge: the subnet's prefix and the
    MAC in the low 48 bits (the subnet must leave 48 bits for it, as dockerd says)."""
    net = ipaddress.IPv6Network(cfg["Subnet"])
    if net.prefixlen > 80:
        raise Forbidden(
            f"Cannot self generate an IPv6 address on network {net}: "
            "At least 48 host bits are needed."
        )
    return str(net.network_address + int(mac.replace(":", ""), 16))


def endpoint(
    n: dict[str, Any], endpoint_config: dict[str, Any], used: list[str], mac: str
) -> dict[str, Any]:
    """The IPv6 part of an endpoint record (ip6, gateway6, plen6); empty on a
    network without IPv6, where an asked-for address is refused as dockerd does.
    On the default bridge the address is made from the MAC, as dockerd makes it."""
    want = (endpoint_config.get("IPAMConfig") or {}).get("IPv6Address") or None
    cfg = config_of(n)
    if cfg is None:
        if want:
            raise InvalidParameter(NO_USER_SUBNET)
        return {}
    gw = gateway(cfg)
    if n["Name"] == "bridge":
        ip = _from_mac(cfg, mac)
    else:
        ip = ipam.allocate(cfg["Subnet"], gw, used, cfg.get("IPRange"), want)
    return {"ip6": ip, "gateway6": gw, "plen6": ipam.parse_any(cfg["Subnet"]).prefixlen}


def commands(ep: dict[str, Any], ifname: str, default_route: bool) -> list[str]:
    """`ip -batch` lines giving the interface its IPv6 address (no duplicate address
    detection: the address is usable at once, as libnetwork sets it) and route."""
    if not ep.get("ip6"):
        return []
    out = [f"addr add {ep['ip6']}/{ep['plen6']} dev {ifname} nodad"]
    if default_route:
        out.append(f"route add ::/0 via {ep['gateway6']} dev {ifname}")
    return out


def settings(ep: dict[str, Any] | None) -> dict[str, Any]:
    """inspect's IPv6 fields of an EndpointSettings."""
    ep = ep or {}
    return {
        "IPv6Gateway": ep.get("gateway6", ""),
        "GlobalIPv6Address": ep.get("ip6", ""),
        "GlobalIPv6PrefixLen": ep.get("plen6", 0),
    }


def network_view_address(ep: dict[str, Any]) -> str:
    """A network inspect's Containers[...].IPv6Address."""
    return f"{ep['ip6']}/{ep['plen6']}" if ep.get("ip6") else ""
