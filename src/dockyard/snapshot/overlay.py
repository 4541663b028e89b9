"""The overlay snapshotter: each snapshot is a directory `snapshots/<id>/fs`;
an active snapshot on a parent chain is an overlay mount (lowerdir = the
parents' fs dirs, upperdir = its own fs). Metadata lives in SQLite (WAL), so a
crash leaves either the old or the new record; directories without a record
are swept on open.

`prepare` does no copying: one INSERT, two mkdirs. Committed snapshots are
immutable, so their parent chains are cached in memory.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from dockyard.api.errors import Conflict, NotFound
from dockyard.snapshot.mount import Mount
from dockyard.snapshot.paths import OverlayPaths
from dockyard.snapshot.snapshotter import (
    KIND_ACTIVE,
    KIND_COMMITTED,
    KIND_VIEW,
    Info,
    Usage,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    key     TEXT NOT NULL UNIQUE,
    kind    TEXT NOT NULL,
    parent  TEXT,
    created REAL NOT NULL,
    size    INTEGER,
    inodes  INTEGER
);
CREATE INDEX IF NOT EXISTS snapshots_parent ON snapshots(parent);
"""


def _index_off_supported() -> bool:
    return os.path.exists("/sys/module/overlay/parameters/index")


class OverlaySnapshotter:
    """Snapshotter over overlayfs; see `dockyard.snapshot.snapshotter` for the life cycle."""

    def __init__(self, paths: OverlayPaths) -> None:
        self.paths = paths
        for d in (paths.root, paths.snapshots, paths.tmp):
            d.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(paths.db, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._chains: dict[str, list[int]] = {}
        self._extra = ("index=off",) if _index_off_supported() else ()
        self._sweep()

    @classmethod
    def open(cls, data_root: Path) -> OverlaySnapshotter:
        return cls(OverlayPaths.under(data_root))

    def close(self) -> None:
        self._db.close()

    # -- protocol -------------------------------------------------------------

    def prepare(self, key: str, parent: str | None) -> list[Mount]:
        sid = self._create(key, parent, KIND_ACTIVE)
        return self._mounts(sid, KIND_ACTIVE, parent)

    def view(self, key: str, parent: str | None) -> list[Mount]:
        sid = self._create(key, parent, KIND_VIEW)
        return self._mounts(sid, KIND_VIEW, parent)

    def commit(
        self, name: str, key: str, parent: str | None = None, usage: Usage | None = None
    ) -> None:
        """Make the active snapshot `key` the committed `name`.

        `parent` stacks a snapshot prepared without one onto the committed
        `parent` now: a layer's diff does not depend on what lies under it, so
        layers can be unpacked side by side, each into its own parentless
        snapshot, and committed in order once they are done:

            sn.prepare("extract-b", None); sn.prepare("extract-a", None)
            ... unpack layer 1 into extract-b and layer 0 into extract-a, at once ...
            sn.commit(chain_0, "extract-a"); sn.commit(chain_1, "extract-b", parent=chain_0)

        `usage`, when the caller counted it while writing, spares walking the tree.
        """
        with self._lock:
            row = self._row(key)
            if row[1] != KIND_ACTIVE:
                raise Conflict(f"snapshot {key} is not active")
            if self._find(name) is not None:
                raise Conflict(f"snapshot {name}: already exists")
            if parent is not None:
                if row[2] is not None:
                    raise Conflict(f"snapshot {key} already has a parent ({row[2]})")
                prow = self._find(parent)
                if prow is None:
                    raise NotFound(f"parent snapshot {parent} does not exist")
                if prow[1] != KIND_COMMITTED:
                    raise Conflict(f"parent snapshot {parent} is not committed")
            u = usage if usage is not None else self._du(self.paths.fs(row[0]))
            self._db.execute(
                "UPDATE snapshots SET key=?, kind=?, parent=?, size=?, inodes=? WHERE id=?",
                (name, KIND_COMMITTED, parent or row[2], u.size, u.inodes, row[0]),
            )
        shutil.rmtree(self.paths.work(row[0]), ignore_errors=True)

    def mounts(self, key: str) -> list[Mount]:
        sid, kind, parent, _ = self._row(key)
        if kind == KIND_COMMITTED:
            return self._mounts(sid, KIND_VIEW, key, own=False)
        return self._mounts(sid, kind, parent)

    def remove(self, key: str) -> None:
        with self._lock:
            sid = self._row(key)[0]
            child = self._db.execute(
                "SELECT key FROM snapshots WHERE parent=? LIMIT 1", (key,)
            ).fetchone()
            if child is not None:
                raise Conflict(f"cannot remove snapshot {key}: it has children ({child[0]})")
            self._db.execute("DELETE FROM snapshots WHERE id=?", (sid,))
            self._chains.pop(key, None)
        self._discard(self.paths.snapshot_dir(sid))

    def stat(self, key: str) -> Info:
        sid, kind, parent, created = self._row(key)
        return Info(key, kind, parent, created)

    def walk(self) -> Iterator[Info]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, kind, parent, created FROM snapshots ORDER BY id"
            ).fetchall()
        for key, kind, parent, created in rows:
            yield Info(key, kind, parent, created)

    def usage(self, key: str) -> Usage:
        with self._lock:
            row = self._db.execute(
                "SELECT id, kind, size, inodes FROM snapshots WHERE key=?", (key,)
            ).fetchone()
        if row is None:
            raise NotFound(f"snapshot {key} does not exist")
        if row[1] == KIND_COMMITTED and row[2] is not None:
            return Usage(row[2], row[3])
        return self._du(self.paths.fs(row[0]))

    # -- overlay-specific -----------------------------------------------------

    def fs_dir(self, key: str) -> Path:
        """The snapshot's own tree (a layer's diff, or a container's upper dir)."""
        return self.paths.fs(self._row(key)[0])

    def work_dir(self, key: str) -> Path:
        return self.paths.work(self._row(key)[0])

    def lower_dirs(self, key: str) -> list[Path]:
        """The fs dirs of `key`'s parents, top-most first (what overlay stacks under it)."""
        parent = self._row(key)[2]
        return [self.paths.fs(i) for i in self._chain(parent)] if parent else []

    def chain_dirs(self, key: str) -> list[Path]:
        """`key`'s own fs dir followed by its parents', top-most first."""
        return [self.paths.fs(i) for i in self._chain(key)]

    # -- internals ------------------------------------------------------------

    def _create(self, key: str, parent: str | None, kind: str) -> int:
        if not key:
            raise ValueError("empty snapshot key")
        with self._lock:
            if parent is not None:
                prow = self._find(parent)
                if prow is None:
                    raise NotFound(f"parent snapshot {parent} does not exist")
                if prow[1] != KIND_COMMITTED:
                    raise Conflict(f"parent snapshot {parent} is not committed")
            try:
                cur = self._db.execute(
                    "INSERT INTO snapshots (key, kind, parent, created) VALUES (?, ?, ?, ?)",
                    (key, kind, parent, time.time()),
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"snapshot {key}: already exists") from None
            sid = cur.lastrowid
            assert sid is not None
        try:
            d = self.paths.snapshot_dir(sid)
            d.mkdir(mode=0o700)
            self.paths.fs(sid).mkdir(mode=0o755)
            if kind == KIND_ACTIVE and parent is not None:
                self.paths.work(sid).mkdir(mode=0o700)
        except BaseException:
            with self._lock:
                self._db.execute("DELETE FROM snapshots WHERE id=?", (sid,))
            self._discard(self.paths.snapshot_dir(sid))
            raise
        return sid

    def _mounts(self, sid: int, kind: str, parent: str | None, own: bool = True) -> list[Mount]:
        lowers = [str(self.paths.fs(i)) for i in self._chain(parent)] if parent else []
        if kind == KIND_ACTIVE:
            fs = str(self.paths.fs(sid))
            if not lowers:
                return [Mount("bind", fs, ("rbind", "rw"))]
            opts = (
                *self._extra,
                f"workdir={self.paths.work(sid)}",
                f"upperdir={fs}",
                "lowerdir=" + ":".join(lowers),
            )
            return [Mount("overlay", "overlay", opts)]
        if not lowers:
            return [Mount("bind", str(self.paths.fs(sid)), ("rbind", "ro"))]
        if len(lowers) == 1:
            return [Mount("bind", lowers[0], ("rbind", "ro"))]
        return [Mount("overlay", "overlay", (*self._extra, "lowerdir=" + ":".join(lowers)))]

    def _chain(self, key: str) -> list[int]:
        """Ids of `key` and its ancestors, top-most first."""
        with self._lock:
            cached = self._chains.get(key)
            if cached is not None:
                return cached
            out: list[int] = []
            k: str | None = key
            while k is not None:
                row = self._find(k)
                if row is None:
                    raise NotFound(f"snapshot {k} does not exist")
                out.append(row[0])
                k = row[2]
            if self._find(key)[1] == KIND_COMMITTED:  # type: ignore[index]
                self._chains[key] = out
            return out

    def _find(self, key: str) -> tuple[int, str, str | None, float] | None:
        with self._lock:
            return self._db.execute(
                "SELECT id, kind, parent, created FROM snapshots WHERE key=?", (key,)
            ).fetchone()

    def _row(self, key: str) -> tuple[int, str, str | None, float]:
        row = self._find(key)
        if row is None:
            raise NotFound(f"snapshot {key} does not exist")
        return row

    def _discard(self, d: Path) -> None:
        """Remove a directory: rename it into tmp/ first so a crash never leaves a half tree."""
        if not d.exists():
            return
        t = self.paths.tmp / f"rm-{uuid.uuid4().hex}"
        try:
            os.rename(d, t)
        except OSError:
            t = d
        shutil.rmtree(t, ignore_errors=True)

    def _sweep(self) -> None:
        for entry in os.scandir(self.paths.tmp):
            shutil.rmtree(entry.path, ignore_errors=True)
        known = {str(r[0]) for r in self._db.execute("SELECT id FROM snapshots")}
        for entry in os.scandir(self.paths.snapshots):
            if entry.name not in known:
                self._discard(Path(entry.path))

    @staticmethod
    def _du(root: Path) -> Usage:
        size = inodes = 0
        stack = [str(root)]
        while stack:
            d = stack.pop()
            with os.scandir(d) as it:
                for e in it:
                    inodes += 1
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                    elif e.is_file(follow_symlinks=False):
                        size += e.stat(follow_symlinks=False).st_size
        return Usage(size, inodes)
