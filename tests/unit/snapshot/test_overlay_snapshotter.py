"""The overlay snapshotter's life cycle with real overlay mounts (root)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.api.errors import Conflict, NotFound
from dockyard.snapshot import Mount, OverlaySnapshotter, mount_all, unmount, upper_dir
from dockyard.snapshot.mount import is_mounted

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mount)")


@pytest.fixture
def sn(tmp_path: Path) -> Iterator[OverlaySnapshotter]:
    s = OverlaySnapshotter.open(tmp_path / "data")
    yield s
    s.close()


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Path]:
    t = tmp_path / "mnt"
    t.mkdir()
    yield t
    while is_mounted(str(t)):
        unmount(str(t))


def _layer(sn: OverlaySnapshotter, name: str, parent: str | None, files: dict[str, bytes]) -> None:
    mounts = sn.prepare("extract-" + name, parent)
    up = Path(upper_dir(mounts))
    for rel, data in files.items():
        p = up / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if data == b"WHITEOUT":
            os.mknod(p, stat.S_IFCHR, 0)
        else:
            p.write_bytes(data)
    sn.commit(name, "extract-" + name)


def test_life_cycle(sn: OverlaySnapshotter, target: Path) -> None:
    _layer(sn, "l1", None, {"a": b"1", "b": b"2"})
    _layer(sn, "l2", "l1", {"b": b"WHITEOUT", "c": b"3"})
    mounts = sn.prepare("ctr", "l2")
    assert mounts[0].type == "overlay"
    mount_all(mounts, str(target))
    try:
        assert sorted(os.listdir(target)) == ["a", "c"]
        (target / "new").write_text("w")
        os.unlink(target / "a")
    finally:
        unmount(str(target))
    up = sn.fs_dir("ctr")
    assert (up / "new").read_text() == "w"
    assert stat.S_ISCHR(os.lstat(up / "a").st_mode)
    assert [i.key for i in sn.walk()] == ["l1", "l2", "ctr"]
    assert sn.stat("ctr").kind == "active" and sn.stat("l2").parent == "l1"
    assert sn.usage("l1").size == 2
    with pytest.raises(Conflict):
        sn.remove("l2")  # the container's snapshot sits on it
    sn.remove("ctr")
    sn.remove("l2")
    sn.remove("l1")
    assert list(sn.walk()) == []
    assert os.listdir(sn.paths.snapshots) == []


def test_no_parent_is_a_writable_bind(sn: OverlaySnapshotter, target: Path) -> None:
    mounts = sn.prepare("empty", None)
    assert mounts == [Mount("bind", str(sn.fs_dir("empty")), ("rbind", "rw"))]
    mount_all(mounts, str(target))
    try:
        (target / "x").write_text("y")
    finally:
        unmount(str(target))
    assert (sn.fs_dir("empty") / "x").read_text() == "y"


def test_view_is_read_only(sn: OverlaySnapshotter, target: Path) -> None:
    _layer(sn, "l1", None, {"a": b"1"})
    _layer(sn, "l2", "l1", {"b": b"2"})
    mount_all(sn.view("v", "l2"), str(target))
    try:
        assert sorted(os.listdir(target)) == ["a", "b"]
        with pytest.raises(OSError):
            (target / "c").write_text("no")
    finally:
        unmount(str(target))
    mount_all(sn.view("v1", "l1"), str(target))
    try:
        with pytest.raises(OSError):
            (target / "c").write_text("no")
    finally:
        unmount(str(target))


def test_errors(sn: OverlaySnapshotter) -> None:
    with pytest.raises(NotFound):
        sn.prepare("x", "missing")
    sn.prepare("a", None)
    with pytest.raises(Conflict):
        sn.prepare("a", None)
    with pytest.raises(Conflict):
        sn.prepare("b", "a")  # parent not committed
    with pytest.raises(NotFound):
        sn.remove("nope")
    sn.commit("c", "a")
    with pytest.raises(Conflict):
        sn.commit("d", "c")


def test_reopen_keeps_records_and_sweeps_orphans(tmp_path: Path) -> None:
    sn = OverlaySnapshotter.open(tmp_path / "d")
    _layer(sn, "l1", None, {"a": b"1"})
    sn.close()
    (tmp_path / "d/snapshots/overlay/snapshots/999").mkdir()
    sn = OverlaySnapshotter.open(tmp_path / "d")
    assert [i.key for i in sn.walk()] == ["l1"]
    assert not (tmp_path / "d/snapshots/overlay/snapshots/999").exists()
    sn.close()


def test_deep_chain_beyond_the_mount_option_limit(tmp_path: Path) -> None:
    """128 layers under a long data root: the lowerdir list is longer than a page,
    yet the overlay mounts (magic links to the snapshots dir) and the top wins."""
    sn = OverlaySnapshotter.open(tmp_path / ("d" * 80) / "data")
    target = tmp_path / "mnt"
    target.mkdir()
    try:
        parent = None
        for i in range(128):
            _layer(sn, f"l{i}", parent, {f"f{i}": str(i).encode(), "top": str(i).encode()})
            parent = f"l{i}"
        for key in ("ctr", "view"):
            mounts = sn.prepare(key, parent) if key == "ctr" else sn.view(key, parent)
            opts = ",".join(mounts[0].options)
            assert len(opts) > 4096  # what a single mount(2) cannot take
            mount_all(mounts, str(target))
            try:
                assert len([n for n in os.listdir(target) if n.startswith("f")]) == 128
                assert (target / "top").read_text() == "127" and (target / "f0").read_text() == "0"
                with open("/proc/self/mountinfo") as f:
                    line = next(ln for ln in f if ln.split()[4] == str(target))
                assert "lowerdir=/proc/self/fd/" in line
            finally:
                unmount(str(target))
            sn.remove(key)
    finally:
        while is_mounted(str(target)):
            unmount(str(target))
        sn.close()


def test_shorten_lowers_is_pure() -> None:
    from dockyard.snapshot.mount import shorten_lowers

    data = "index=off,workdir=/r/s/9/work,upperdir=/r/s/9/fs,lowerdir=/r/s/2/fs:/r/s/1/fs:/x/y"
    assert shorten_lowers(data, 7, "/r/s") == (
        "index=off,workdir=/r/s/9/work,upperdir=/r/s/9/fs,"
        "lowerdir=/proc/self/fd/7/2/fs:/proc/self/fd/7/1/fs:/x/y"
    )


def test_layers_unpacked_apart_are_stacked_at_commit(sn: OverlaySnapshotter, target: Path) -> None:
    """Two parentless snapshots filled side by side (the upper one first), then
    committed in order, the upper one onto the lower: the same stack as prepare-on-parent."""
    upper = Path(upper_dir(sn.prepare("extract-b", None)))
    lower = Path(upper_dir(sn.prepare("extract-a", None)))
    (upper / "b").write_text("2")
    os.mknod(upper / "a", stat.S_IFCHR, 0)  # a whiteout of the lower layer's file
    (lower / "a").write_text("1")
    (lower / "keep").write_text("k")
    with pytest.raises(Conflict):
        sn.commit("lb", "extract-b", parent="extract-a")  # the parent is not committed yet
    sn.commit("la", "extract-a")
    sn.commit("lb", "extract-b", parent="la")
    assert sn.stat("lb").parent == "la" and sn.lower_dirs("lb") == [sn.fs_dir("la")]
    mount_all(sn.prepare("ctr", "lb"), str(target))
    try:
        assert sorted(os.listdir(target)) == ["b", "keep"]
    finally:
        unmount(str(target))
    sn.prepare("extract-c", "lb")
    with pytest.raises(Conflict):
        sn.commit("lc", "extract-c", parent="la")  # prepared on a parent already
