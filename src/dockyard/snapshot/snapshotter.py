"""The Snapshotter protocol (containerd's): snapshots are trees identified by
key, returned to callers as mounts, never mounted by the snapshotter itself.

Life cycle, importing a two-layer image and running a container on it:

    mounts = sn.prepare("extract-1", None)         # active, empty, writable
    apply_layer(upper_dir(mounts), layer0_tar)     # unpack the diff into it
    sn.commit(chain_id_0, "extract-1")             # now immutable, a parent
    mounts = sn.prepare("extract-2", chain_id_0)
    apply_layer(upper_dir(mounts), layer1_tar)
    sn.commit(chain_id_1, "extract-2")

    mounts = sn.prepare(container_id, chain_id_1)  # overlay: lower = layers, upper = new
    mount_all(mounts, rootfs); ...; unmount(rootfs)
    sn.remove(container_id)

Layers can also be unpacked side by side, each into a snapshot prepared
without a parent, and stacked at commit: `sn.commit(chain_id_1, "extract-2",
parent=chain_id_0)` (a diff never depends on what lies under it).

A committed snapshot with children cannot be removed; remove the children first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from dockyard.snapshot.mount import Mount

KIND_ACTIVE = "active"
KIND_VIEW = "view"
KIND_COMMITTED = "committed"


@dataclass(frozen=True, slots=True)
class Info:
    key: str
    kind: str  # active | view | committed
    parent: str | None
    created: float


@dataclass(frozen=True, slots=True)
class Usage:
    size: int  # bytes of file content (apparent size)
    inodes: int


class Snapshotter(Protocol):
    def prepare(self, key: str, parent: str | None) -> list[Mount]: ...
    def view(self, key: str, parent: str | None) -> list[Mount]: ...
    def commit(
        self, name: str, key: str, parent: str | None = None, usage: Usage | None = None
    ) -> None: ...
    def mounts(self, key: str) -> list[Mount]: ...
    def remove(self, key: str) -> None: ...
    def stat(self, key: str) -> Info: ...
    def walk(self) -> Iterator[Info]: ...
    def usage(self, key: str) -> Usage: ...


def upper_dir(mounts: list[Mount]) -> str:
    """The writable directory behind an active snapshot's mounts (containerd's
    overlay-aware applier trick: unpack straight into it, no mount needed)."""
    for m in mounts:
        if m.type == "overlay":
            for opt in m.options:
                if opt.startswith("upperdir="):
                    return opt[len("upperdir=") :]
        elif m.type == "bind" and "ro" not in m.options:
            return m.source
    raise ValueError("mounts have no writable upper directory")
