"""The classic builder's cache: prune semantics, and databases from before `created`."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from dockyard.builder.cache import BuildCache


def test_prune_stale_then_all_and_until(tmp_path: Path) -> None:
    c = BuildCache(str(tmp_path / "cache.db"))
    c.put("p", "RUN a", "img-a")
    c.put("p", "RUN b", "img-b")
    assert c.prune(False, None, lambda i: True) == []  # every image exists: nothing stale
    assert c.prune(False, None, lambda i: i != "img-a") == [BuildCache.key("p", "RUN a")]
    assert c.get("p", "RUN a") is None and c.get("p", "RUN b") == "img-b"
    assert c.prune(True, time.time() - 3600, lambda i: True) == []  # made after `until`
    assert c.prune(True, None, lambda i: True) == [BuildCache.key("p", "RUN b")]
    c.close()


def test_an_old_database_gains_the_column(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE cache (key TEXT PRIMARY KEY, image_id TEXT NOT NULL)")
    db.execute("INSERT INTO cache VALUES ('k', 'img')")
    db.commit()
    db.close()
    c = BuildCache(path)
    c.put("p", "RUN x", "img-x")
    assert c.prune(True, time.time() - 60, lambda i: True) == ["k"]  # old rows count as oldest
    c.close()
