"""The watch rules' change detection (polling snapshots) and the sync tar."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from dockyard.compose.watch import diff, snapshot, tar_of


def test_snapshot_diff_and_ignore(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "x.js").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("b")
    before = snapshot(str(tmp_path), ["node_modules/"])
    assert sorted(before) == ["a.txt", "sub/b.txt"]
    (tmp_path / "sub" / "b.txt").write_text("bb")
    (tmp_path / "c.txt").write_text("c")
    os.unlink(tmp_path / "a.txt")
    (tmp_path / "node_modules" / "y.js").write_text("y")
    assert diff(before, snapshot(str(tmp_path), ["node_modules/"])) == (
        ["c.txt", "sub/b.txt"],
        ["a.txt"],
    )


def test_tar_places_files_under_the_target_name(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("b")
    data = tar_of(str(tmp_path), ["sub/b.txt"], "app")
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert tf.getnames() == ["app/sub/b.txt"]
