"""The addresses a node uses in the swarm: parsing --advertise-addr / --listen-addr
(an IP, IP:port or an interface name) and choosing the address others reach this node
on when none is given, as dockerd picks it. `ip` is asked rather than a netlink library:
these run once per init/join, and the routing decision is exactly what `ip route get` prints.
"""

from __future__ import annotations

import socket
import subprocess
from typing import Any

from dockyard.api.errors import InvalidParameter

DEFAULT_PORT = 2377


def split_addr(addr: str, default_port: int) -> tuple[str, int]:
    """ "ip", "ip:port" or an interface name (its first IPv4 address)."""
    host, _, port = addr.rpartition(":") if addr.count(":") == 1 else (addr, "", "")
    host = host or addr
    if host and not host[0].isdigit() and host not in ("localhost",):
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", host],
                             capture_output=True, text=True)  # fmt: skip
        words = out.stdout.split()
        if out.returncode != 0 or "inet" not in words:
            raise InvalidParameter(
                "advertise address must be a non-zero IP address or network interface "
                "(with optional port number)"
            )
        host = words[words.index("inet") + 1].split("/")[0]
    try:
        socket.inet_aton(host)
    except OSError:
        raise InvalidParameter(f"invalid listen address {addr}") from None
    return host, int(port or default_port)


def advertise_addr(req: dict[str, Any], toward: str = "1.1.1.1") -> tuple[str, int]:
    """The address and swarm port others reach this node on: --advertise-addr, else a
    specific --listen-addr, else the source address of the route toward the manager
    joined (or of the default route), as dockerd picks it."""
    listen = req.get("ListenAddr") or f"0.0.0.0:{DEFAULT_PORT}"
    listen_host, port = split_addr(listen, DEFAULT_PORT)
    adv = req.get("AdvertiseAddr") or ""
    if adv:
        return split_addr(adv, port)
    if listen_host != "0.0.0.0":
        return listen_host, port
    return route_source(toward), port


def route_source(toward: str) -> str:
    """The source address of the route toward `toward`; with no route, the host's one
    non-loopback IPv4 address (none or several: dockerd asks for --advertise-addr)."""
    out = subprocess.run(["ip", "-4", "route", "get", toward], capture_output=True, text=True)
    words = out.stdout.split()
    if out.returncode == 0 and "src" in words:
        return words[words.index("src") + 1]
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                         capture_output=True, text=True)  # fmt: skip
    addrs = [line.split()[3].split("/")[0] for line in out.stdout.splitlines()]
    if len(addrs) != 1:
        raise InvalidParameter(
            "could not find the system's IP address - specify one with --advertise-addr"
        )
    return addrs[0]
