"""Every path the overlay snapshotter uses, in one place.

    <data-root>/snapshots/overlay/                root of the overlay snapshotter
        metadata.db                               SQLite (WAL): snapshots(id, key, kind, parent, ...)
        snapshots/<id>/fs                         the snapshot's tree: a layer's diff, or a
                                                  container's upper dir (whiteouts as 0/0 char
                                                  devices, opaque dirs as trusted.overlay.opaque)
        snapshots/<id>/work                       overlay's workdir (same filesystem as fs)
        tmp/                                      scratch space for directories being removed

Numeric ids keep overlay's lowerdir option short: mount(2) data is one page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dockyard.pathtable import path_below


@dataclass(frozen=True, slots=True)
class OverlayPaths:
    root: Path

    @classmethod
    def under(cls, data_root: Path) -> OverlayPaths:
        return cls(Path(data_root) / "snapshots" / "overlay")

    db = path_below("root", "metadata.db")
    snapshots = path_below("root", "snapshots")
    tmp = path_below("root", "tmp")

    def snapshot_dir(self, sid: int) -> Path:
        return self.snapshots / str(sid)

    def fs(self, sid: int) -> Path:
        return self.snapshots / str(sid) / "fs"

    def work(self, sid: int) -> Path:
        return self.snapshots / str(sid) / "work"
