"""IP address management: pure allocation over a subnet (no I/O).

Allocations are kept by the caller (the network store persists them with each
endpoint), so the allocator is rebuilt from them after a daemon restart.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from dockyard.api.errors import Conflict, InvalidParameter


def parse_subnet(text: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise InvalidParameter(f"invalid subnet {text}") from None


def first_host(net: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    return net.network_address + 1


def parse_any(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An IPv4 or IPv6 subnet (IPAM configs hold both families)."""
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidParameter(f"invalid subnet {text}") from None


def allocate(
    subnet: str,
    gateway: str,
    used: Iterable[str],
    ip_range: str | None = None,
    wanted: str | None = None,
) -> str:
    """A free address of `subnet` (IPv4 or IPv6; within `ip_range` if set), or
    `wanted` if it is free. Addresses are handed out in order, as libnetwork does."""
    net = parse_any(subnet)
    family = f"IPv{net.version}"
    taken = {ipaddress.ip_address(u) for u in used if u}
    if gateway:
        taken.add(ipaddress.ip_address(gateway))
    # IPv4's broadcast address is never a host's; IPv6 has none
    reserved = {net.network_address} | ({net.broadcast_address} if net.version == 4 else set())
    if wanted:
        try:
            addr = ipaddress.ip_address(wanted)
        except ValueError:
            raise InvalidParameter(f"invalid {family} address: {wanted}") from None
        if addr.version != net.version or addr not in net or addr in reserved:
            raise InvalidParameter(
                f"no configured subnet or ip-range contain the IP address {wanted}"
            )
        if addr in taken:
            raise Conflict("Address already in use")
        return str(addr)
    pool = parse_any(ip_range) if ip_range else net
    for addr in pool.hosts() if pool.prefixlen < pool.max_prefixlen - 1 else pool:
        if addr in net and addr not in taken and addr not in reserved:
            return str(addr)
    raise Conflict(f"no available {family} addresses on this network's address pools: {subnet}")


def split_pool(base: str, size: int) -> list[str]:
    """Docker's --default-address-pool base=...,size=...: the candidate subnets in order."""
    net = parse_subnet(base)
    if size < net.prefixlen:
        raise InvalidParameter(f"invalid pool size {size} for {base}")
    return [str(s) for s in net.subnets(new_prefix=size)]


def overlaps(a: str, others: Iterable[str]) -> bool:
    na = parse_subnet(a)
    return any(na.overlaps(parse_subnet(o)) for o in others)


def mac_for(ip: str) -> str:
    """Docker's MAC from the IPv4 address: 02:42:a.b.c.d."""
    return "02:42:" + ":".join(f"{int(o):02x}" for o in ip.split("."))


def aux_addresses(given: dict[str, str] | None, net: ipaddress.IPv4Network) -> dict[str, str]:
    """A pool's AuxiliaryAddresses (names for addresses IPAM never hands out),
    each checked to be in the subnet as dockerd does."""
    out = {}
    for name, ip in (given or {}).items():
        try:
            addr = ipaddress.IPv4Address(ip)
        except ValueError:
            raise InvalidParameter(f"invalid auxiliary address {ip}") from None
        if addr not in net:
            raise InvalidParameter(f"no matching subnet for aux-address {ip}")
        out[name] = str(addr)
    return out
