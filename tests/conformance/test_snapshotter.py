"""The Snapshotter contract, run against every implementation (today overlay):
prepare/view/commit/remove/stat/walk/usage and the refusals (Conflict, NotFound).
Pure file and record operations: nothing is mounted here."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockyard.api.errors import Conflict, NotFound
from dockyard.snapshot import OverlaySnapshotter, Snapshotter, upper_dir

IMPLEMENTATIONS: dict[str, Callable[[Path], OverlaySnapshotter]] = {
    "overlay": lambda root: OverlaySnapshotter.open(root),
}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def sn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Snapshotter]:
    s = IMPLEMENTATIONS[request.param](tmp_path / "data")
    yield s
    s.close()


def _layer(sn: Snapshotter, name: str, parent: str | None, files: dict[str, bytes]) -> None:
    mounts = sn.prepare("extract-" + name, parent)
    up = Path(upper_dir(mounts))
    for rel, data in files.items():
        (up / rel).write_bytes(data)
    sn.commit(name, "extract-" + name)


def test_commit_chain_stat_and_walk(sn: Snapshotter) -> None:
    _layer(sn, "base", None, {"a": b"1"})
    _layer(sn, "top", "base", {"b": b"22"})
    top = sn.stat("top")
    assert (top.kind, top.parent) == ("committed", "base")
    assert sn.stat("base").parent is None
    assert {i.key for i in sn.walk()} == {"base", "top"}  # the active keys are gone
    assert sn.usage("top").size == 2


def test_active_and_view_snapshots_mount_their_parents(sn: Snapshotter) -> None:
    _layer(sn, "base", None, {"a": b"1"})
    active = sn.prepare("ctr", "base")
    assert sn.stat("ctr").kind == "active"
    assert sn.mounts("ctr") == active
    assert os.path.isdir(upper_dir(active))
    sn.view("ro", "base")
    assert sn.stat("ro").kind == "view"
    sn.remove("ctr")
    sn.remove("ro")
    with pytest.raises(NotFound):
        sn.stat("ctr")


def test_refusals(sn: Snapshotter) -> None:
    _layer(sn, "base", None, {})
    _layer(sn, "top", "base", {})
    with pytest.raises(Conflict):
        sn.remove("base")  # it has a child
    with pytest.raises(Conflict):
        sn.commit("other", "base")  # not active
    sn.prepare("x", None)
    with pytest.raises(Conflict):
        sn.commit("top", "x")  # the name exists
    with pytest.raises(NotFound):
        sn.usage("nope")
    sn.remove("top")
    sn.remove("base")
    assert {i.key for i in sn.walk()} == {"x"}
