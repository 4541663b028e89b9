"""``update``'s flags as an OCI ``linux.resources`` object (pure, as runc's ``update.go``).

``--resources FILE`` (``-`` for stdin) is the JSON object itself; the single
flags (``--memory 64m``, ``--cpu-quota``, ``--pids-limit``...) override it.
Sizes take runc's units (``k``/``m``/``g``/``t``, powers of 1024; ``-1`` is
unlimited).
"""

from __future__ import annotations

import sys

from dockyard.proto.units import mem_swap_bytes

from . import jsontext

__all__ = ["resources_from_flags", "ram_in_bytes", "UpdateError"]

_MEMORY = {
    "memory": "limit",
    "memory-swap": "swap",
    "memory-reservation": "reservation",
    "kernel-memory": "kernel",
}
_CPU_INT = {
    "cpu-share": "shares",
    "cpu-shares": "shares",
    "cpu-quota": "quota",
    "cpu-period": "period",
}


class UpdateError(ValueError):
    """A flag value runc would refuse."""


def ram_in_bytes(text: str) -> int:
    """runc's size flags: `-1` (unlimited) or go-units RAMInBytes (proto.units)."""
    try:
        return mem_swap_bytes(text.strip())
    except ValueError:
        raise UpdateError(f"invalid size: {text!r}") from None


def resources_from_flags(flags: dict, stdin=None) -> dict:
    resources: dict = {}
    source = flags.get("resources") or flags.get("r")
    if source:
        if source == "-":
            text = (stdin or sys.stdin).read()
        else:
            with open(str(source)) as f:
                text = f.read()
        doc = jsontext.loads(text)
        if not isinstance(doc, dict):
            raise UpdateError("resources must be a JSON object")
        resources = doc
    for flag, key in _MEMORY.items():
        if flags.get(flag):
            resources.setdefault("memory", {})[key] = ram_in_bytes(str(flags[flag]))
    for flag, key in _CPU_INT.items():
        if flags.get(flag):
            resources.setdefault("cpu", {})[key] = int(flags[flag])
    if flags.get("cpuset-cpus"):
        resources.setdefault("cpu", {})["cpus"] = str(flags["cpuset-cpus"])
    if flags.get("cpuset-mems"):
        resources.setdefault("cpu", {})["mems"] = str(flags["cpuset-mems"])
    if flags.get("pids-limit"):
        resources["pids"] = {"limit": int(flags["pids-limit"])}
    if flags.get("blkio-weight"):
        resources["blockIO"] = {"weight": int(flags["blkio-weight"])}
    return resources
