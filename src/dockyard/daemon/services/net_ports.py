"""Port publishing for a container's primary endpoint: `-p`/`-P` requests turned into
host ports (a fixed one refused when another endpoint holds it or something listens
there, as dockerd's wording; a range or none: the first free one), and `ps`'s Ports.

The host side (what is listening, what is free) is network/ports.py's.
"""

from __future__ import annotations

from typing import Any

from dockyard.api.errors import Forbidden
from dockyard.daemon.services.net_records import Endpoints
from dockyard.network import ports

__all__ = ["bind_ports", "ps_ports"]


def bind_ports(c: Any, endpoints: Endpoints) -> list[list[Any]]:
    """[proto, host ip, host port, container port] for each port container ``c``
    publishes; ``endpoints``: every container's, whose ports are taken."""
    hc = c.host_config
    reqs = ports.requested(
        hc.get("PortBindings"), c.config.get("ExposedPorts"), bool(hc.get("PublishAllPorts"))
    )
    taken = {
        (p[0], p[2])
        for per in endpoints.values()
        for ep in per.values()
        for p in ep.get("ports", [])
    }
    out: list[list[Any]] = []
    for cport, proto, hip, lo, hi in reqs:
        avoid = {p for pr, p in taken if pr == proto}
        if lo and lo == hi:
            if (proto, lo) in taken:
                raise Forbidden(
                    f"driver failed programming external connectivity on endpoint {c.name.lstrip('/')} "
                    f"({c.id}): Bind for {hip or '0.0.0.0'}:{lo} failed: port is already allocated"
                )
            ports.check_listening(proto, hip, lo)
            hport = lo
        else:
            hport = ports.free_port(proto, hip, lo, hi, avoid)
        taken.add((proto, hport))
        out.append([proto, hip, hport, cport])
    return out


def ps_ports(settings: dict[str, Any]) -> list[dict[str, Any]]:
    """`ps`'s Ports, from the container's NetworkSettings."""
    out: list[dict[str, Any]] = []
    for key, binds in settings["Ports"].items():
        port, _, proto = key.partition("/")
        if not binds:
            out.append({"PrivatePort": int(port), "Type": proto})
        for b in binds or []:
            out.append(
                {
                    "IP": b["HostIp"],
                    "PrivatePort": int(port),
                    "PublicPort": int(b["HostPort"]),
                    "Type": proto,
                }
            )
    return out
