"""Every path the image store uses, in one place.

    <data-root>/image/
        metadata.db                 SQLite (WAL): images, references (tags and digests), layers
        content/blobs/sha256/<hex>  content-addressed blobs: image configs, layer tars
                                    (uncompressed: the blob digest of a layer is its diff id),
                                    manifests and indexes kept for save/push
        content/ingest/<ref>        blobs being written; moved into blobs/ by commit
                                    (size and digest verified, fsync, rename)
        tmp/                        uploads being received (import, load)

The snapshots that hold unpacked layers live under the snapshotter's own
root (`dockyard.snapshot.paths`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dockyard.pathtable import path_below
from dockyard.proto.reference import validate_digest


@dataclass(frozen=True, slots=True)
class StorePaths:
    root: Path

    @classmethod
    def under(cls, data_root: Path) -> StorePaths:
        return cls(Path(data_root) / "image")

    db = path_below("root", "metadata.db")
    content = path_below("root", "content")
    blobs = path_below("root", "content", "blobs", "sha256")
    ingest = path_below("root", "content", "ingest")
    tmp = path_below("root", "tmp")

    def blob(self, digest: str) -> Path:
        return self.blobs / validate_digest(digest)[len("sha256:") :]

    def ingest_file(self, ref: str) -> Path:
        if not ref or "/" in ref or ref.startswith("."):
            raise ValueError(f"invalid ingest ref {ref!r}")
        return self.ingest / ref

    def all_dirs(self) -> tuple[Path, ...]:
        return (self.root, self.blobs, self.ingest, self.tmp)
