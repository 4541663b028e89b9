"""Namespaces and hostnames a container takes from another container or the host, as
dockerd decides them.

- ``--pid container:X`` and ``--ipc container:X`` join X's namespaces: the OCI spec's
  namespace gets X's init's ``/proc/PID/ns/...`` as its ``path`` (the runtime setns(2)s
  into it). At create the mode is kept by X's id (a missing X is a 400 there); at
  start X must be running, and for IPC shareable, with dockerd's wording otherwise.
- ``--network host``: the container's hostname is the host's (recorded at create, as
  dockerd does); ``--network container:X`` takes X's at start (the network layer says
  so in ``SandboxInfo.hostname``).

The container lookup is passed in (``ContainerService.get``): this module holds rules,
not containers.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from dockyard.api.errors import InvalidParameter, NotFound, SystemError_

__all__ = ["resolve_at_create", "join_at_start"]

Lookup = Callable[[str], Any]  # name or id -> the container (raises NoSuchContainer)
_SHAREABLE_IPC = ("shareable",)


def _other(mode: str) -> str | None:
    return mode.split(":", 1)[1] if mode.startswith("container:") else None


def resolve_at_create(host_config: dict[str, Any], config: dict[str, Any], cid: str,
                      lookup: Lookup) -> None:  # fmt: skip
    """Keep ``container:NAME`` modes by the other container's id; the default hostname."""
    for key in ("PidMode", "IpcMode"):
        ref = _other(host_config.get(key) or "")
        if ref is not None:
            try:
                other = lookup(ref)
            except NotFound as exc:  # a 400: on a 404 the docker CLI would pull the image
                raise InvalidParameter(str(exc)) from None
            host_config[key] = f"container:{other.id}"
    if not config.get("Hostname"):
        host = host_config.get("NetworkMode") == "host"
        config["Hostname"] = socket.gethostname() if host else cid[:12]


def join_at_start(spec: dict[str, Any], host_config: dict[str, Any], lookup: Lookup) -> None:
    """Point the spec's pid and ipc namespaces at the other container's, if asked."""
    ref = _other(host_config.get("PidMode") or "")
    if ref is not None:
        other = lookup(ref)
        if not other.running:
            raise SystemError_(f"container {other.id} is not running")
        _join(spec, "pid", other)
    ref = _other(host_config.get("IpcMode") or "")
    if ref is not None:
        prefix = f"can't join IPC of container {ref}"
        try:
            other = lookup(ref)
        except NotFound as exc:
            raise SystemError_(f"{prefix}: {exc}") from None
        if not other.running:
            raise SystemError_(f"{prefix}: container {other.id} is not running")
        mode = other.host_config.get("IpcMode") or ""
        if mode not in _SHAREABLE_IPC and _other(mode) is None:
            raise SystemError_(
                f"{prefix}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)"
            )
        _join(spec, "ipc", other)


def _join(spec: dict[str, Any], kind: str, other: Any) -> None:
    path = f"/proc/{int(other.state.get('Pid') or 0)}/ns/{kind}"
    namespaces = spec["linux"]["namespaces"]
    for ns in namespaces:
        if ns["type"] == kind:
            ns["path"] = path
            return
    namespaces.append({"type": kind, "path": path})
