"""Crash leftovers reclaimed at restore (reclaim.py), on a real directory tree and
the real overlay snapshotter's metadata (no mounts: prepare makes directories)."""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.daemon.services import reclaim
from dockyard.snapshot.overlay import OverlaySnapshotter

A, B, C = "a" * 64, "b" * 64, "c" * 64


def test_temp_files_unrecorded_containers_and_their_snapshots(tmp_path: Path) -> None:
    containers, bundles = tmp_path / "containers", tmp_path / "bundles"
    for cid in (A, B, C):
        (containers / cid).mkdir(parents=True)
    (containers / A / "config.v2.json").write_text("{}")
    (containers / A / "config.v2.json.tmp").write_text("{")  # killed before the rename
    (containers / C / "config.v2.json").write_text("not json")  # unreadable: kept
    (containers / "notes.tmp").write_text("")
    (bundles / A).mkdir(parents=True)
    (bundles / A / "config.json.tmp").write_text("")
    sn = OverlaySnapshotter.open(tmp_path / "data")
    try:
        sn.prepare(A, None)
        sn.prepare(B, None)  # B's record was never written
        sn.prepare("extract-1", None)  # not a container's: not ours to judge
        reclaim.container_leftovers(str(containers), str(bundles), "config.v2.json", {A}, sn)
        assert sorted(os.listdir(containers)) == [A, C]
        assert os.listdir(containers / A) == ["config.v2.json"]
        assert os.listdir(bundles / A) == []
        assert sorted(i.key for i in sn.walk()) == [A, "extract-1"]
    finally:
        sn.close()


def test_namespaces_spare_owners_and_the_pool(tmp_path: Path) -> None:
    for name in ("owned", "orphan", "pool-1234"):
        (tmp_path / name).write_text("")  # not mounts: removal unlinks them
    reclaim.namespaces(str(tmp_path), {"owned"})
    assert sorted(os.listdir(tmp_path)) == ["owned", "pool-1234"]
