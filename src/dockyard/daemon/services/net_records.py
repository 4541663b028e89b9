"""Network records as the Engine API shows them: the daemon's network options, the
record of a new network, its inspect view, and the list filters (name, id, driver,
scope, type, label, dangling).

Records are plain dicts (the state file's and the API's shape); keys starting with
"_" are the daemon's own (the bridge's name) and never shown.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.api.errors import NotFound
from dockyard.api.filters import labels_match, match
from dockyard.daemon.services import ipv6
from dockyard.monitor import jsonlog

__all__ = [
    "BRIDGE_NAME_OPT", "PREDEFINED", "NetworkNotFound", "Options", "in_use", "matches",
    "new_record", "prefixlen", "view",
]  # fmt: skip

PREDEFINED = ("bridge", "host", "none")
BRIDGE_NAME_OPT = "com.docker.network.bridge.name"

Record = dict[str, Any]
#: endpoints[cid][net_id] = {"ip", "mac", "veth", "ifname", "gateway", "aliases", "ports", ...}
Endpoints = Mapping[str, Mapping[str, dict[str, Any]]]


@dataclass
class Options:
    bridge: str = "dockyard0"
    bip: str = "172.17.0.1/16"
    pools: tuple[tuple[str, int], ...] = (("172.18.0.0/16", 16), ("192.168.0.0/16", 20))
    iptables: bool = True
    ip_forward: bool = True
    mtu: int = 1500
    dns_forward: bool = True
    warm_sandboxes: int = 2  # default-bridge sandboxes made ahead (netpool.py)
    fixed_cidr_v6: str = ""  # the default bridge's IPv6 subnet (`--ipv6 --fixed-cidr-v6`)


class NetworkNotFound(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"network {ref} not found")


def new_record(name: str, driver: str, subnet: str = "", gateway: str = "", **kw: Any) -> Record:
    """A new network's record (a fresh id); ``kw``: ip_range, aux, ipam_options,
    internal, attachable, options, labels, bridge."""
    nid = secrets.token_hex(32)
    config = [{"Subnet": subnet, "Gateway": gateway}] if subnet else []
    if kw.get("ip_range") and config:
        config[0]["IPRange"] = kw["ip_range"]
    if kw.get("aux") and config:
        config[0]["AuxiliaryAddresses"] = kw["aux"]
    return {
        "Name": name,
        "Id": nid,
        "Created": jsonlog.rfc3339_nano(),
        "Scope": "local",
        "Driver": driver,
        "EnableIPv4": True,
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": kw.get("ipam_options"), "Config": config},
        "Internal": bool(kw.get("internal")),
        "Attachable": bool(kw.get("attachable")),
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Options": kw.get("options") or {},
        "Labels": kw.get("labels") or {},
        "_bridge": kw.get("bridge", ""),
    }


def prefixlen(n: Record) -> int:
    """The prefix length of the network's subnet (0 for host and none)."""
    config = n["IPAM"]["Config"]
    return ipaddress.IPv4Network(config[0]["Subnet"]).prefixlen if config else 0


def in_use(n: Record, endpoints: Endpoints) -> bool:
    return any(n["Id"] in per for per in endpoints.values())


def view(n: Record, endpoints: Endpoints, names: Mapping[str, tuple[str, str]]) -> Record:
    """`docker network inspect`'s document: the record and its containers' endpoints."""
    out = {k: v for k, v in n.items() if not k.startswith("_")}
    eps = {}
    for cid, per in endpoints.items():
        ep = per.get(n["Id"])
        if ep:
            eps[cid] = {
                "Name": names.get(cid, (cid[:12], ""))[0],
                "EndpointID": ep["endpoint_id"],
                "MacAddress": ep["mac"],
                "IPv4Address": f"{ep['ip']}/{prefixlen(n)}",
                "IPv6Address": ipv6.network_view_address(ep),
            }
    out["Containers"] = eps
    return out


def matches(n: Record, filters: dict[str, list[str]], endpoints: Endpoints) -> bool:
    """`docker network ls --filter` (and prune's label filters) over one record."""
    for key, values in filters.items():
        if key == "name" and not match(values, n["Name"]):
            return False
        if key == "id" and not match(values, n["Id"]):
            return False
        if key == "driver" and n["Driver"] not in values:
            return False
        if key == "scope" and n.get("Scope", "local") not in values:
            return False
        if key == "type":
            kind = "builtin" if n["Name"] in PREDEFINED else "custom"
            if kind not in values:
                return False
        if key == "label" and not labels_match(n["Labels"], filters):
            return False
        if key == "dangling":
            want = values[0] in ("true", "1")
            if want == (in_use(n, endpoints) or n["Name"] in PREDEFINED):
                return False
    return True


def options_from_flags(args: Any) -> Options:
    """The daemon's network flags (--bridge, --bip, --default-address-pool, ...)."""
    pools: list[tuple[str, int]] = []
    for spec in args.default_address_pool or []:
        kv = dict(part.split("=", 1) for part in spec.split(",") if "=" in part)
        if "base" not in kv:
            raise SystemExit(f"dockyardd: invalid --default-address-pool {spec!r}")
        pools.append((kv["base"], int(kv.get("size", 24))))
    fixed_cidr_v6 = ipv6.fixed_cidr(
        getattr(args, "ipv6", False), getattr(args, "fixed_cidr_v6", "")
    )
    return Options(
        bridge=args.bridge,
        bip=args.bip,
        pools=tuple(pools) or Options.pools,
        iptables=args.iptables == "true",
        ip_forward=args.ip_forward == "true",
        mtu=args.mtu,
        dns_forward=getattr(args, "dns_forward", "true") == "true",
        # warm sandboxes are IPv4-only: a dual-stack default bridge makes its own
        warm_sandboxes=0 if fixed_cidr_v6 else Options.warm_sandboxes,
        fixed_cidr_v6=fixed_cidr_v6,
    )
