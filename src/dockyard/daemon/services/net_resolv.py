"""A container's name resolution as its network gives it: /etc/hosts extra lines
(`--add-host`, with `host-gateway`), /etc/resolv.conf (the embedded DNS server's on
user networks, else `--dns` or the host's, with `--dns-search` and `--dns-option`),
the names the embedded DNS answers (containers and aliases on the asker's user
networks, `--link` aliases) and the servers it forwards other names to.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.daemon.services.container_spec import host_resolv_conf
from dockyard.daemon.services.net_records import Endpoints, Record

__all__ = ["extra_hosts", "link_target", "resolv_conf", "resolve", "upstreams"]


def extra_hosts(hc: dict[str, Any], gateway: str, bip: str) -> tuple[str, ...]:
    """ExtraHosts as /etc/hosts lines; `host-gateway`: the network's gateway, else the
    default bridge's address (``bip``)."""
    out = []
    for entry in hc.get("ExtraHosts") or []:
        name, sep, ip = entry.partition(":")
        if not sep:
            name, _, ip = entry.partition("=")
        if ip == "host-gateway":
            ip = gateway or str(ipaddress.IPv4Interface(bip).ip)
        out.append(f"{ip}\t{name}")
    return tuple(out)


def resolv_conf(hc: dict[str, Any], embedded: bool) -> str:
    host = host_resolv_conf().splitlines()
    search = [ln for ln in host if ln.startswith("search")]
    options = [ln for ln in host if ln.startswith("options")]
    if embedded:
        servers = ["nameserver 127.0.0.11"]
        options = [" ".join(["options", "ndots:0", *(o.split()[1:])]) for o in options] or [
            "options ndots:0"
        ]
    elif hc.get("Dns"):
        servers = [f"nameserver {d}" for d in hc["Dns"]]
    else:
        servers = [ln for ln in host if ln.startswith("nameserver")]
    if hc.get("DnsSearch"):
        search = ["search " + " ".join(hc["DnsSearch"])]
    if hc.get("DnsOptions"):
        options = ["options " + " ".join(hc["DnsOptions"])]
    return "\n".join(servers + search + options) + "\n"


def upstreams(hc: dict[str, Any] | None, forward: bool) -> list[str]:
    """Where names that are not containers' go: the container's --dns, else the host's
    non-loopback resolvers; none when forwarding is off (tests)."""
    if not forward:
        return []
    servers = list((hc or {}).get("Dns") or [])
    if not servers:
        for line in host_resolv_conf().splitlines():
            parts = line.split()
            if parts[:1] == ["nameserver"] and len(parts) > 1 and "." in parts[1]:
                servers.append(parts[1])
    return servers


def link_target(name: str, links: Sequence[str]) -> str:
    """``name`` (lower case), or the container a ``--link`` alias of that name is for."""
    name = name.lower()
    for link in links:
        # --link other[:alias] (the API may carry "/other:/me/alias")
        target, _, alias = link.partition(":")
        alias = alias.rsplit("/", 1)[-1] or target
        if name == alias.lower().lstrip("/"):
            return target.lstrip("/").lower()
    return name


def resolve(
    cid: str,
    name: str,
    nets: Mapping[str, Record],
    endpoints: Endpoints,
    names: Mapping[str, tuple[str, str]],
) -> list[str]:
    """Addresses for ``name`` (lower case) as container ``cid`` sees it: the containers
    (names, ids, aliases, ``name.network``) on the asker's user networks (the default
    bridge has no names)."""
    mine = [nid for nid in endpoints.get(cid, {}) if nets.get(nid, {}).get("Name") != "bridge"]
    out: list[str] = []
    for nid in mine:
        netname = nets[nid]["Name"].lower()
        for other, per in endpoints.items():
            ep = per.get(nid)
            if not ep:
                continue
            cname = names.get(other, ("", ""))[0].lower()
            known = {cname, other, other[:12], *(a.lower() for a in ep.get("aliases", []))}
            known |= {f"{x}.{netname}" for x in list(known) if x}
            if name in known and ep["ip"] not in out:
                out.append(ep["ip"])
    return out
