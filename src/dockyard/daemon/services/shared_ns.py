"""Namespaces and hostnames a container takes from another container or the host, as
dockerd decides them.

- ``--pid container:X`` and ``--ipc container:X`` join X's namespaces: the OCI spec's
  namespace gets X's init's ``/proc/PID/ns/...`` as its ``path`` (the runtime setns(2)s
  into it; :func:`resolve_at_start` gives `Joins`, which `spec_builder` puts in the
  spec). At create the mode is kept by X's id (a missing X is a 400 there); at
  start X must be running, and for IPC shareable, with dockerd's wording otherwise.
- ``--ipc shareable``: the container's /dev/shm is a tmpfs the daemon mounts on the
  host (:func:`mount_shm`, released at exit) instead of one inside; containers that
  join its IPC bind the same tmpfs, so POSIX shared memory is shared too, as dockerd
  does it.
- ``--network host``: the container's hostname is the host's (recorded at create, as
  dockerd does); ``--network container:X`` takes X's at start (the network layer says
  so in ``SandboxInfo.hostname``).

The container lookup is passed in (``ContainerService.get``): this module holds rules,
not containers.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

from dockyard.api.errors import InvalidParameter, NotFound, SystemError_
from dockyard.daemon.services.hostconfig import DEFAULT_SHM_SIZE
from dockyard.daemon.services.spec_inputs import Joins
from dockyard.snapshot.mount import Mount, is_mounted, mount_all, unmount

__all__ = ["resolve_at_create", "resolve_at_start", "mount_shm", "release_shm"]

Lookup = Callable[[str], Any]  # name or id -> the container (raises NoSuchContainer)
_SHAREABLE_IPC = ("shareable",)
_SHM_OPTIONS = ("nosuid", "noexec", "nodev", "mode=1777")


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


def mount_shm(host_config: dict[str, Any], path: str) -> None:
    """Before a shareable container starts: its /dev/shm on the host (in a thread: mount)."""
    if (host_config.get("IpcMode") or "") not in _SHAREABLE_IPC or is_mounted(path):
        return
    os.makedirs(path, mode=0o700, exist_ok=True)
    size = int(host_config.get("ShmSize") or DEFAULT_SHM_SIZE)
    mount_all([Mount("tmpfs", "shm", (*_SHM_OPTIONS, f"size={size}"))], path)


def release_shm(path: str) -> None:
    """Once the container is gone or stopped (containers joined to it keep their bind)."""
    try:
        unmount(path)
    except FileNotFoundError:
        pass  # never mounted: not a shareable container


def resolve_at_start(host_config: dict[str, Any], cid: str, lookup: Lookup,
                     shm_dir: Callable[[str], str]) -> Joins:  # fmt: skip
    """The other container's pid and ipc namespaces to join, if asked, and the host
    tmpfs to bind at /dev/shm (a shareable container's own, or the one it joins)."""
    pid = ipc = shm = None
    if (host_config.get("IpcMode") or "") in _SHAREABLE_IPC:
        shm = shm_dir(cid)
    ref = _other(host_config.get("PidMode") or "")
    if ref is not None:
        other = lookup(ref)
        if not other.running:
            raise SystemError_(f"container {other.id} is not running")
        pid = _ns_path(other, "pid")
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
        ipc = _ns_path(other, "ipc")
        for _ in range(8):  # a chain of joins ends at the shareable container
            ref = _other(other.host_config.get("IpcMode") or "")
            if ref is None:
                break
            other = lookup(ref)
        if is_mounted(shm_dir(other.id)):  # else started before it was mounted there
            shm = shm_dir(other.id)
    return Joins(pid=pid, ipc=ipc, shm_source=shm)


def _ns_path(other: Any, kind: str) -> str:
    return f"/proc/{int(other.state.get('Pid') or 0)}/ns/{kind}"
