"""The ``CgroupManager`` protocol (structural): what the runtime asks of a container's
cgroups. Its drivers, v1 and v2, are in cgroups.py; tests/conformance/ holds the
contract every driver passes. Apart from cgroups.py so that `typing` (~20 ms) is
imported only by type checkers and tests, never on a runtime start.
"""

from __future__ import annotations

from typing import Protocol


class CgroupManager(Protocol):
    """The protocol, structural: one instance per container (see the module docstring).
    CgroupV1 and CgroupV2 implement it; tests/conformance/ holds its contract."""

    version: int
    own: dict[str, str] | None  # the runtime's own cgroups, when resolved from them

    def create(self, resources: dict) -> None:
        """Make the cgroup(s) and write ``resources``."""
        ...

    def apply(self, pid: int) -> None: ...

    def set(self, resources: dict) -> None: ...

    def freeze(self) -> None: ...

    def thaw(self) -> None: ...

    def pids(self) -> list[int]: ...

    def stats(self) -> dict: ...

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer killed in this memory cgroup
        (what containerd turns into dockerd's `oom` event and State.OOMKilled)."""
        ...

    def destroy(self) -> None: ...

    def paths(self) -> dict[str, str]: ...

    def hierarchy_paths(self) -> dict[str, str]:
        """Controller -> path inside its hierarchy, as /proc/PID/cgroup names it
        (``""`` on v2) for a process in this container's cgroups."""
        ...
