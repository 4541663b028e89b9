"""The image store: image records, references (tags and digests) and layers,
in SQLite (WAL). Image configs are blobs in the content store; an image's id
is its config's digest.

Tables:
    images(id, created, size, snapshot, parent, last_tag_time, added)
    refs(name, image_id, kind, created)   name: full normalised reference
                                          ("docker.io/library/busybox:latest" or "...@sha256:..")
    layers(diff_id, chain_id, blob, media_type, blob_size, size)
                                          blob: the stored tar's digest (= diff_id, uncompressed)
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from dockyard.api.errors import NotFound
from dockyard.proto.image import ZERO_TIME, chain_ids
from dockyard.proto.reference import Reference, parse_normalized
from dockyard.store.content import ContentStore

LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id            TEXT PRIMARY KEY,
    created       TEXT NOT NULL,
    size          INTEGER NOT NULL,
    snapshot      TEXT,
    parent        TEXT NOT NULL DEFAULT '',
    last_tag_time TEXT NOT NULL DEFAULT '',
    added         REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS refs (
    name     TEXT PRIMARY KEY,
    image_id TEXT NOT NULL,
    kind     TEXT NOT NULL,
    created  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS refs_image ON refs(image_id);
CREATE TABLE IF NOT EXISTS layers (
    diff_id    TEXT PRIMARY KEY,
    chain_id   TEXT NOT NULL,
    blob       TEXT NOT NULL,
    media_type TEXT NOT NULL,
    blob_size  INTEGER NOT NULL,
    size       INTEGER NOT NULL
);
PRAGMA user_version = 1;
"""


@dataclass(frozen=True)
class Image:
    id: str  # "sha256:<hex>", the config's digest
    repo_tags: list[str]  # familiar: "busybox:latest"
    repo_digests: list[str]  # familiar: "busybox@sha256:..."
    config: dict[str, Any]  # the whole image config JSON
    created: str  # RFC 3339 from the config
    size: int  # bytes of unpacked content, all layers
    snapshot: str | None  # chain id of the top layer; None without layers
    parent: str = ""
    last_tag_time: str = ZERO_TIME
    references: list[Reference] = field(default_factory=list, compare=False)

    @property
    def diff_ids(self) -> list[str]:
        return list((self.config.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.config.get("config") or {}).get("Labels") or {})


@dataclass(frozen=True, slots=True)
class Layer:
    diff_id: str
    chain_id: str
    blob: str
    media_type: str
    blob_size: int
    size: int


class ImageStore:
    def __init__(self, db_path: str, content: ContentStore) -> None:
        self.content = content
        self._lock = threading.RLock()
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._configs: dict[str, dict[str, Any]] = {}

    def close(self) -> None:
        self._db.close()

    # -- layers ---------------------------------------------------------------

    def add_layer(self, layer: Layer) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO layers VALUES (?, ?, ?, ?, ?, ?)",
                (
                    layer.diff_id,
                    layer.chain_id,
                    layer.blob,
                    layer.media_type,
                    layer.blob_size,
                    layer.size,
                ),
            )

    def layer(self, diff_id: str) -> Layer | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM layers WHERE diff_id=?", (diff_id,)).fetchone()
        return Layer(*row) if row else None

    def layers(self) -> list[Layer]:
        with self._lock:
            return [Layer(*r) for r in self._db.execute("SELECT * FROM layers")]

    def delete_layer(self, diff_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM layers WHERE diff_id=?", (diff_id,))

    # -- images ---------------------------------------------------------------

    def create(self, config_bytes: bytes, parent: str = "") -> str:
        """Store an image whose layers are already stored; returns its id. Idempotent."""
        info = self.content.add(config_bytes)
        image_id = info.digest
        config = json.loads(config_bytes)
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        size = 0
        for d in diff_ids:
            layer = self.layer(d)
            if layer is None:
                raise NotFound(f"layer {d} does not exist")
            size += layer.size
        chains = chain_ids(diff_ids)
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO images (id, created, size, snapshot, parent, added) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    image_id,
                    config.get("created") or "",
                    size,
                    chains[-1] if chains else None,
                    parent,
                    time.time(),
                ),
            )
            self._configs[image_id] = config
        return image_id

    def exists(self, image_id: str) -> bool:
        with self._lock:
            return (
                self._db.execute("SELECT 1 FROM images WHERE id=?", (image_id,)).fetchone()
                is not None
            )

    def config(self, image_id: str) -> dict[str, Any]:
        cfg = self._configs.get(image_id)
        if cfg is None:
            cfg = json.loads(self.content.read(image_id))
            self._configs[image_id] = cfg
        return cfg

    def get(self, image_id: str) -> Image:
        with self._lock:
            row = self._db.execute(
                "SELECT id, created, size, snapshot, parent, last_tag_time FROM images WHERE id=?",
                (image_id,),
            ).fetchone()
            if row is None:
                raise NotFound(f"image {image_id} does not exist")
            refs = [
                r[0]
                for r in self._db.execute(
                    "SELECT name FROM refs WHERE image_id=? ORDER BY created, name", (image_id,)
                )
            ]
        return self._image(row, refs)

    def list(self) -> list[Image]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, created, size, snapshot, parent, last_tag_time FROM images ORDER BY added DESC"
            ).fetchall()
            refmap: dict[str, list[str]] = {}
            for name, image_id in self._db.execute(
                "SELECT name, image_id FROM refs ORDER BY created, name"
            ):
                refmap.setdefault(image_id, []).append(name)
        return [self._image(r, refmap.get(r[0], [])) for r in rows]

    def ids(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT id FROM images")]

    def search(self, hex_prefix: str) -> list[str]:
        """Ids starting with `sha256:<hex_prefix>` (at most two: enough to tell ambiguity)."""
        lo = "sha256:" + hex_prefix
        with self._lock:
            return [
                r[0]
                for r in self._db.execute(
                    "SELECT id FROM images WHERE id >= ? AND id < ? ORDER BY id LIMIT 2",
                    (lo, lo + "\x7f"),
                )
            ]

    def delete(self, image_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM refs WHERE image_id=?", (image_id,))
            self._db.execute("DELETE FROM images WHERE id=?", (image_id,))
            self._configs.pop(image_id, None)

    def _image(self, row: tuple[Any, ...], refs: list[str]) -> Image:
        image_id, created, size, snapshot, parent, last_tag_time = row
        parsed = [parse_normalized(n) for n in refs]
        return Image(
            id=image_id,
            repo_tags=[r.familiar() for r in parsed if r.digest is None],
            repo_digests=[r.familiar() for r in parsed if r.digest is not None],
            config=self.config(image_id),
            created=created,
            size=size,
            snapshot=snapshot,
            parent=parent,
            last_tag_time=last_tag_time or ZERO_TIME,
            references=parsed,
        )

    # -- references -----------------------------------------------------------

    def lookup(self, ref: Reference) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT image_id FROM refs WHERE name=?", (str(ref),)).fetchone()
        return row[0] if row else None

    def references(self, image_id: str) -> list[Reference]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name FROM refs WHERE image_id=? ORDER BY created, name", (image_id,)
            ).fetchall()
        return [parse_normalized(r[0]) for r in rows]

    def add_reference(
        self, ref: Reference, image_id: str, tag_time: str | None = None
    ) -> str | None:
        """Point `ref` at `image_id`; returns the image it pointed to before (if another)."""
        with self._lock:
            old = self.lookup(ref)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO refs (name, image_id, kind, created) VALUES (?, ?, ?, ?)",
                    (str(ref), image_id, "digest" if ref.digest else "tag", time.time()),
                )
                if tag_time is not None:
                    self._db.execute(
                        "UPDATE images SET last_tag_time=? WHERE id=?", (tag_time, image_id)
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return old if old != image_id else None

    def remove_reference(self, ref: Reference) -> None:
        with self._lock:
            self._db.execute("DELETE FROM refs WHERE name=?", (str(ref),))

    def snapshots_in_use(self) -> set[str]:
        """Chain ids of every layer of every image (what GC must keep)."""
        out: set[str] = set()
        for image_id in self.ids():
            out.update(
                chain_ids(list((self.config(image_id).get("rootfs") or {}).get("diff_ids") or []))
            )
        return out
