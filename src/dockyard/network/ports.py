"""Published ports: Docker's PortBindings/ExposedPorts shapes into flat bindings (pure)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from dockyard.api.errors import InvalidParameter


@dataclass(frozen=True)
class Binding:
    proto: str
    container_port: int
    host_ip: str
    host_port: int

    def key(self) -> str:
        return f"{self.container_port}/{self.proto}"


def _port_key(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidParameter(f"invalid proto: {proto}")
    try:
        n = int(port)
    except ValueError:
        raise InvalidParameter(f"invalid containerPort: {port}") from None
    return n, proto


def requested(
    port_bindings: dict[str, Any] | None, exposed: dict[str, Any] | None, publish_all: bool
) -> list[tuple[int, str, str, int, int]]:
    """(container_port, proto, host_ip, lo, hi): host port range, 0-0 for ephemeral."""
    out: list[tuple[int, str, str, int, int]] = []
    seen: set[str] = set()
    for key, binds in sorted((port_bindings or {}).items()):
        cport, proto = _port_key(key)
        seen.add(f"{cport}/{proto}")
        for b in binds or [{}]:
            hp = str((b or {}).get("HostPort") or "")
            hip = str((b or {}).get("HostIp") or "")
            lo, _, hi = hp.partition("-")
            try:
                lo_n = int(lo) if lo else 0
                hi_n = int(hi) if hi else lo_n
            except ValueError:
                raise InvalidParameter(f"invalid hostPort: {hp}") from None
            out.append((cport, proto, hip, lo_n, hi_n))
    if publish_all:
        for key in sorted(exposed or {}):
            cport, proto = _port_key(key)
            if f"{cport}/{proto}" not in seen:
                out.append((cport, proto, "", 0, 0))
    return out


def free_port(
    proto: str, host_ip: str, lo: int = 0, hi: int = 0, avoid: set[int] | None = None
) -> int:
    """A host port nobody listens on: the kernel's ephemeral pick, or one in [lo, hi]."""
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    candidates = range(lo, hi + 1) if lo else [0] * 20
    for p in candidates:
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((host_ip if host_ip not in ("", "0.0.0.0") else "0.0.0.0", p))
            except OSError:
                continue
            got = s.getsockname()[1]
            if avoid and got in avoid:
                continue
            return got
    raise InvalidParameter(f"no free host port in {lo}-{hi}" if lo else "no free host port")


def check_listening(proto: str, host_ip: str, port: int) -> None:
    """Docker refuses a host port that is already taken (its proxy binds it)."""
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host_ip or "0.0.0.0", port))
        except OSError as exc:
            raise InvalidParameter(
                f"failed to bind host port for {host_ip or '0.0.0.0'}:{port}: {exc.strerror}"
            ) from None


def ports_view(bindings: list[Binding], exposed: dict[str, Any] | None) -> dict[str, Any]:
    """NetworkSettings.Ports: every exposed port, with its host bindings or null."""
    view: dict[str, Any] = {k if "/" in k else k + "/tcp": None for k in (exposed or {})}
    for b in bindings:
        view.setdefault(b.key(), None)
        if view[b.key()] is None:
            view[b.key()] = []
        view[b.key()].append({"HostIp": b.host_ip or "0.0.0.0", "HostPort": str(b.host_port)})
    return view
