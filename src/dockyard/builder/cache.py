"""The classic builder's cache: (parent image id, step key) -> image id, in
SQLite under the data root so it survives a daemon restart. The step key is
what dockerd compares: the instruction as committed (created_by, which holds
build args in use and COPY/ADD content checksums) plus the config it runs
with. A hit is only used while the image still exists."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable


class BuildCache:
    def __init__(self, db_path: str) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, image_id TEXT NOT NULL)"
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(cache)")}
        if "created" not in columns:  # (databases from before `prune`)
            self._db.execute("ALTER TABLE cache ADD COLUMN created REAL NOT NULL DEFAULT 0")

    @staticmethod
    def key(parent_id: str, step: str) -> str:
        return hashlib.sha256(f"{parent_id}\n{step}".encode()).hexdigest()

    def get(self, parent_id: str, step: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT image_id FROM cache WHERE key=?", (self.key(parent_id, step),)
            ).fetchone()
        return row[0] if row else None

    def put(self, parent_id: str, step: str, image_id: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO cache (key, image_id, created) VALUES (?, ?, ?)",
                (self.key(parent_id, step), image_id, time.time()),
            )

    def prune(
        self, everything: bool, until: float | None, exists: Callable[[str], bool]
    ) -> list[str]:
        """`docker builder prune`: the entries whose image is gone, or (`everything`)
        all of them; only those recorded before `until` when given. Their keys."""
        with self._lock:
            rows = self._db.execute("SELECT key, image_id, created FROM cache").fetchall()
            gone = [
                key
                for key, image_id, created in rows
                if (until is None or created < until) and (everything or not exists(image_id))
            ]
            self._db.executemany("DELETE FROM cache WHERE key=?", [(k,) for k in gone])
        return gone

    def close(self) -> None:
        self._db.close()
