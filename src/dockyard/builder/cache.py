"""The classic builder's cache: (parent image id, step key) -> image id, in
SQLite under the data root so it survives a daemon restart. The step key is
what dockerd compares: the instruction as committed (created_by, which holds
build args in use and COPY/ADD content checksums) plus the config it runs
with. A hit is only used while the image still exists."""

from __future__ import annotations

import hashlib
import sqlite3
import threading


class BuildCache:
    def __init__(self, db_path: str) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, image_id TEXT NOT NULL)"
        )

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
                "INSERT OR REPLACE INTO cache VALUES (?, ?)", (self.key(parent_id, step), image_id)
            )

    def close(self) -> None:
        self._db.close()
