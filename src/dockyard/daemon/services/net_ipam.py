"""Addresses for bridge networks, as libnetwork's default IPAM gives them: a new
network's subnet (the one asked for, checked against the others, or the first free
one of the daemon's default address pools), its gateway, IP range and auxiliary
addresses; and an endpoint's address in its network.

The arithmetic is network/ipam.py's; this module holds the daemon's rules over it
(Docker's wording for what it refuses).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.api.errors import Forbidden, InvalidParameter
from dockyard.network import ipam

__all__ = ["Pool", "endpoint_address", "requested_pool"]


@dataclass(frozen=True)
class Pool:
    """A new network's addresses (the record's IPAM.Config[0])."""

    subnet: str
    gateway: str
    ip_range: str
    aux: dict[str, str]


def requested_pool(
    cfg: dict[str, Any],
    used: Sequence[str],
    defaults: Iterable[tuple[str, int]],
    host_routes: Sequence[str],
) -> Pool:
    """The pool for IPAM config ``cfg`` (its first Config entry): ``used``: the other
    networks' subnets; ``defaults``: the daemon's (base, size) pools; ``host_routes``:
    the host's routes, which a default pool must not overlap either."""
    subnet = cfg.get("Subnet") or ""
    if subnet:
        subnet = str(ipam.parse_subnet(subnet))
        if ipam.overlaps(subnet, used):
            raise Forbidden(
                "invalid pool request: Pool overlaps with other one on this address space"
            )
    else:
        subnet = _first_free(defaults, [*used, *host_routes])
    net = ipam.parse_subnet(subnet)
    gateway = cfg.get("Gateway") or str(ipam.first_host(net))
    if ipaddress.IPv4Address(gateway) not in net:
        raise InvalidParameter(f"no matching subnet for gateway {gateway}")
    ip_range = cfg.get("IPRange") or ""
    if ip_range and not ipam.parse_subnet(ip_range).subnet_of(net):
        raise InvalidParameter(f"invalid ip-range {ip_range}: not in subnet {subnet}")
    return Pool(subnet, gateway, ip_range, ipam.aux_addresses(cfg.get("AuxiliaryAddresses"), net))


def _first_free(defaults: Iterable[tuple[str, int]], taken: Sequence[str]) -> str:
    for base, size in defaults:
        for cand in ipam.split_pool(base, size):
            if not ipam.overlaps(cand, taken):
                return cand
    raise Forbidden(
        "could not find an available, non-overlapping IPv4 address pool among the defaults "
        "to assign to the network"
    )


def endpoint_address(n: dict[str, Any], cfg: dict[str, Any], taken: Iterable[str]) -> str:
    """An endpoint's address on network ``n``: the one its config asks for, else the
    first free one; ``taken``: the addresses of the network's other endpoints (and of
    warm sandboxes on the default bridge). Auxiliary addresses are never given."""
    sub = n["IPAM"]["Config"][0]
    used = [*taken, *(sub.get("AuxiliaryAddresses") or {}).values()]
    want = (cfg.get("IPAMConfig") or {}).get("IPv4Address") or None
    return ipam.allocate(sub["Subnet"], sub["Gateway"], used, sub.get("IPRange"), want)
