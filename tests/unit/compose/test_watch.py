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


def test_inotify_says_which_tree_changed_including_new_directories(tmp_path: Path) -> None:
    from dockyard.compose.inotify import Tree

    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b, a / "node_modules"):
        d.mkdir()
    with Tree() as tree:
        tree.add("a", str(a), lambda p: p.endswith("node_modules"))
        tree.add("b", str(b))
        assert tree.wait(0.05) == set()  # nothing happened: nothing reported
        (a / "x.txt").write_text("x")
        assert tree.wait(30) == {"a"}
        (b / "new").mkdir()
        assert tree.wait(30) == {"b"}
        (b / "new" / "deep.txt").write_text("d")  # inside a directory made after add()
        assert tree.wait(30) == {"b"}
        (a / "node_modules" / "m.js").write_text("m")  # an ignored directory is not watched
        assert tree.wait(0.05) == set()


def test_watcher_wakes_only_for_the_rules_whose_paths_changed(tmp_path: Path) -> None:
    from dockyard.compose.model import Project, Service
    from dockyard.compose.watch import Watcher

    for d in ("web", "api"):
        (tmp_path / d).mkdir()
    services = {
        n: Service(n, {"develop": {"watch": [{"action": "sync", "path": n, "target": "/app"}]}})
        for n in ("web", "api")
    }
    project = Project("p", str(tmp_path), (), services)
    w = Watcher(None, project, lambda text: None, lambda svc: None)  # type: ignore[arg-type]
    tree = w.watch()
    assert tree is not None
    try:
        assert w.changes(tree, 0.05) == []  # polling would answer every rule
        (tmp_path / "api" / "main.py").write_text("print()")
        assert w.changes(tree, 30) == [1]
    finally:
        tree.close()
