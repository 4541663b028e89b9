"""fsutil: atomic writes and the read-through cache of small JSON files."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dockyard.fsutil import JsonFiles, write_atomic


def test_write_atomic_replaces_whole_files(tmp_path: Path) -> None:
    p = str(tmp_path / "f")
    write_atomic(p, b"one")
    write_atomic(p, b"two", durable=False)
    assert Path(p).read_bytes() == b"two"
    assert os.listdir(tmp_path) == ["f"]  # no temp file left


def test_json_files_read_through_write_through_and_bounded(tmp_path: Path) -> None:
    files = JsonFiles(size=2)
    a, b, c = (str(tmp_path / n) for n in "abc")
    assert files.read(a, {"none": 1}) == {"none": 1}  # missing: the default, not cached
    Path(a).write_text(json.dumps({"x": 1}))
    assert files.read(a, None) == {"x": 1}
    Path(a).write_text(json.dumps({"x": 2}))  # behind the cache's back: still the cached
    assert files.read(a, None) == {"x": 1}
    files.write(b, [1])
    assert json.loads(Path(b).read_text()) == [1] and files.read(b, None) == [1]
    files.write(c, [2])  # a is the least recently used of three: dropped, read again
    assert files.read(a, None) == {"x": 2}
