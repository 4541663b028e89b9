"""The runtime's on-disk state, one directory per container under ``--root``.

Layout (the only place paths under ``--root`` are built)::

    ROOT/ID/            mode 0711, created by ``create``
    ROOT/ID/state.json  ``ContainerState.to_dict()``; rewritten atomically
    ROOT/ID/exec.fifo   exists while the container is ``created``; ``start`` removes it

Status is never stored: like runc it is derived from the init pid (checked
against its start time so a reused pid reads as ``stopped``), the fifo and,
for ``paused``, the freezer.
"""

from __future__ import annotations

import os
import time

from . import jsontext

__all__ = [
    "ContainerState",
    "StateError",
    "container_dir",
    "load_state",
    "list_ids",
    "process_start_time",
    "process_alive",
    "now_rfc3339",
]

STATE_FILE = "state.json"
EXEC_FIFO = "exec.fifo"


class StateError(RuntimeError):
    """A container is missing, already exists, or its state is unreadable."""


def container_dir(root: str, container_id: str) -> str:
    return os.path.join(root, container_id)


def now_rfc3339() -> str:
    """UTC time with nanoseconds, as Go prints ``time.Time`` in runc's state."""
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + (
        f".{ns % 1_000_000_000:09d}Z"
    )


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may hold spaces and parentheses: split after the last ')'
    return data[data.rfind(b")") + 2 :].decode().split()


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (clock ticks since boot), or None if gone."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def process_alive(pid: int, start_time: int | None) -> bool:
    """True if ``pid`` is the same process (not a zombie, not a reused pid)."""
    if pid <= 0:
        return False
    fields = _stat_fields(pid)
    if not fields or fields[0] in ("Z", "X", "x"):
        return False
    return start_time is None or int(fields[19]) == start_time


class ContainerState:
    """What ``create`` records about a container; ``status`` is computed."""

    __slots__ = (
        "root",
        "id",
        "pid",
        "pid_start",
        "bundle",
        "rootfs",
        "created",
        "annotations",
        "owner",
        "cgroup_paths",
        "namespaces",
        "extra",
    )

    def __init__(self, root: str, container_id: str, **fields: object):
        self.root = root
        self.id = container_id
        self.pid = int(fields.get("pid") or 0)
        self.pid_start = fields.get("pid_start")
        self.bundle = str(fields.get("bundle") or "")
        self.rootfs = str(fields.get("rootfs") or "")
        self.created = str(fields.get("created") or "")
        self.annotations = dict(fields.get("annotations") or {})
        self.owner = str(fields.get("owner") or "")
        self.cgroup_paths = dict(fields.get("cgroup_paths") or {})
        self.namespaces = list(fields.get("namespaces") or [])
        self.extra = dict(fields.get("extra") or {})

    @property
    def dir(self) -> str:
        return container_dir(self.root, self.id)

    @property
    def fifo(self) -> str:
        return os.path.join(self.dir, EXEC_FIFO)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "pid": self.pid,
            "pid_start": self.pid_start,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "annotations": self.annotations,
            "owner": self.owner,
            "cgroup_paths": self.cgroup_paths,
            "namespaces": self.namespaces,
            "extra": self.extra,
        }

    def save(self) -> None:
        path = os.path.join(self.dir, STATE_FILE)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(jsontext.dumps(self.to_dict()))
        os.rename(tmp, path)

    def running(self) -> bool:
        return process_alive(self.pid, self.pid_start)

    def status(self) -> str:
        if not self.running():
            return "stopped"
        if os.path.exists(self.fifo):
            return "created"
        if self._frozen():
            return "paused"
        return "running"

    def _frozen(self) -> bool:
        path = self.cgroup_paths.get("freezer")
        if not path:
            return False
        for name in ("freezer.state", "cgroup.freeze"):
            try:
                with open(os.path.join(path, name)) as f:
                    return f.read().strip() in ("FROZEN", "FREEZING", "1")
            except OSError:
                continue
        return False

    def oci_state(self) -> dict:
        """The document ``state`` prints (runc's field order)."""
        status = self.status()
        doc = {
            "ociVersion": "1.0.2-dev",
            "id": self.id,
            "pid": self.pid if status != "stopped" else 0,
            "status": status,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        }
        if self.annotations:
            doc["annotations"] = self.annotations
        return doc


def load_state(root: str, container_id: str) -> ContainerState:
    path = os.path.join(container_dir(root, container_id), STATE_FILE)
    try:
        with open(path, "rb") as f:
            raw = jsontext.loads(f.read())
    except FileNotFoundError:
        raise StateError("container does not exist") from None
    except (OSError, ValueError) as e:
        raise StateError(f"cannot read state of {container_id}: {e}") from None
    if not isinstance(raw, dict):
        raise StateError(f"corrupt state of {container_id}")
    return ContainerState(root, container_id, **{k: v for k, v in raw.items() if k != "id"})


def list_ids(root: str) -> list[str]:
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if os.path.exists(os.path.join(root, n, STATE_FILE)))
