"""Layer apply on real files: whiteouts, attributes, links, and archives that
try to escape the target (crafted here, entry by entry)."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from dockyard.snapshot.apply import InvalidLayer, apply_layer

root_only = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root (chown, mknod, trusted xattrs)"
)


def make_tar(*entries: tuple) -> bytes:
    """entries: (name, type, extra dict) with type one of f d l h c fifo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, *rest in entries:
            extra = rest[0] if rest else {}
            ti = tarfile.TarInfo(name)
            ti.mtime = extra.get("mtime", 1_700_000_000)
            ti.mode = extra.get("mode", 0o755 if kind == "d" else 0o644)
            ti.uid = extra.get("uid", 0)
            ti.gid = extra.get("gid", 0)
            ti.pax_headers = extra.get("pax", {})
            data = None
            if kind == "f":
                payload = extra.get("data", b"")
                ti.size = len(payload)
                data = io.BytesIO(payload)
            elif kind == "d":
                ti.type = tarfile.DIRTYPE
            elif kind == "l":
                ti.type = tarfile.SYMTYPE
                ti.linkname = extra["target"]
            elif kind == "h":
                ti.type = tarfile.LNKTYPE
                ti.linkname = extra["target"]
            elif kind == "c":
                ti.type = tarfile.CHRTYPE
                ti.devmajor, ti.devminor = extra.get("dev", (1, 3))
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            tf.addfile(ti, data)
    return buf.getvalue()


def apply(root: Path, data: bytes):
    return apply_layer(str(root), io.BytesIO(data))


def test_diff_id_is_sha256_of_the_whole_tar(tmp_path: Path) -> None:
    data = make_tar(("a", "f", {"data": b"hello"}))
    res = apply(tmp_path, data)
    assert res.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert res.tar_size == len(data)
    assert res.size == 5
    assert (tmp_path / "a").read_bytes() == b"hello"


@root_only
def test_attributes(tmp_path: Path) -> None:
    data = make_tar(
        ("./", "d", {"mode": 0o755}),
        ("./etc/", "d", {"mode": 0o750, "uid": 7, "gid": 8, "mtime": 1_600_000_000}),
        (
            "./etc/f",
            "f",
            {"data": b"x", "mode": 0o4755, "uid": 1000, "gid": 1001, "mtime": 1_500_000_000},
        ),
        ("./etc/s", "l", {"target": "/nowhere", "uid": 5}),
        ("./etc/h", "h", {"target": "./etc/f"}),
        ("./dev/null", "c", {"dev": (1, 3), "mode": 0o666}),
        ("./dev/p", "fifo"),
        ("./x", "f", {"data": b"", "pax": {"SCHILY.xattr.user.k": "v"}}),
    )
    apply(tmp_path, data)
    st = os.lstat(tmp_path / "etc/f")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1001, 0o4755)
    assert st.st_mtime == 1_500_000_000
    assert st.st_nlink == 2 and os.lstat(tmp_path / "etc/h").st_ino == st.st_ino
    d = os.lstat(tmp_path / "etc")
    assert (d.st_uid, d.st_gid, stat.S_IMODE(d.st_mode), d.st_mtime) == (7, 8, 0o750, 1_600_000_000)
    assert os.readlink(tmp_path / "etc/s") == "/nowhere"
    assert os.lstat(tmp_path / "etc/s").st_uid == 5
    dev = os.lstat(tmp_path / "dev/null")
    assert stat.S_ISCHR(dev.st_mode) and os.major(dev.st_rdev) == 1 and os.minor(dev.st_rdev) == 3
    assert stat.S_ISFIFO(os.lstat(tmp_path / "dev/p").st_mode)
    assert os.getxattr(tmp_path / "x", "user.k") == b"v"


@root_only
def test_whiteouts_become_overlay_whiteouts(tmp_path: Path) -> None:
    data = make_tar(
        ("etc/", "d"),
        ("etc/.wh.passwd", "f"),
        ("opq/", "d"),
        ("opq/.wh..wh..opq", "f"),
        ("opq/new", "f", {"data": b"n"}),
        (".wh..wh.plnk", "d"),
    )
    apply(tmp_path, data)
    wo = os.lstat(tmp_path / "etc/passwd")
    assert stat.S_ISCHR(wo.st_mode) and wo.st_rdev == 0
    assert not (tmp_path / "etc/.wh.passwd").exists()
    assert os.getxattr(tmp_path / "opq", "trusted.overlay.opaque") == b"y"
    assert not (tmp_path / "opq/.wh..wh..opq").exists()
    assert (tmp_path / "opq/new").read_bytes() == b"n"
    assert not (tmp_path / ".wh..wh.plnk").exists()


def test_later_entries_replace_earlier_ones(tmp_path: Path) -> None:
    data = make_tar(
        ("a/", "d"),
        ("a/b", "f", {"data": b"1"}),
        ("a", "f", {"data": b"file now"}),
        ("c", "l", {"target": "x"}),
        ("c", "f", {"data": b"2"}),
    )
    apply(tmp_path, data)
    assert (tmp_path / "a").read_bytes() == b"file now"
    assert not os.path.islink(tmp_path / "c") and (tmp_path / "c").read_bytes() == b"2"


@pytest.mark.parametrize(
    ("entries", "fragment"),
    [
        ((("../evil", "f", {"data": b"x"}),), "escapes the layer root"),
        ((("a/../../evil", "f", {"data": b"x"}),), "escapes the layer root"),
        ((("/etc/evil", "f", {"data": b"x"}),), "absolute path"),
        # a symlink to outside, then a file "through" it
        (
            (("link", "l", {"target": "/tmp"}), ("link/evil", "f", {"data": b"x"})),
            "symlink cannot be a parent",
        ),
        (
            (("link", "l", {"target": "../.."}), ("link/evil", "f", {"data": b"x"})),
            "symlink cannot be a parent",
        ),
        # a whiteout through a symlinked parent would delete outside
        ((("link", "l", {"target": "/"}), ("link/.wh.etc", "f")), "symlink cannot be a parent"),
        (
            (("link", "l", {"target": "/"}), ("link/.wh..wh..opq", "f")),
            "symlink cannot be a parent",
        ),
        # hard links pointing outside, or through a symlink
        ((("h", "h", {"target": "../../etc/passwd"}),), "escapes the layer root"),
        ((("h", "h", {"target": "/etc/passwd"}),), "absolute path"),
        (
            (("l", "l", {"target": "/etc"}), ("h", "h", {"target": "l/passwd"})),
            "symlink cannot be a parent",
        ),
        ((("h", "h", {"target": "missing"}),), "not in the layer"),
    ],
)
def test_escapes_are_rejected(tmp_path: Path, entries: tuple, fragment: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "target"
    target.mkdir()
    data = make_tar(*entries)
    with pytest.raises(InvalidLayer) as e:
        apply(target, data)
    assert fragment in e.value.message
    assert e.value.status == 400
    assert list(outside.iterdir()) == []
    assert not os.path.exists("/tmp/evil") and not os.path.exists("/etc/evil")


def test_garbage_and_truncated_archives(tmp_path: Path) -> None:
    with pytest.raises(InvalidLayer):
        apply(tmp_path, b"this is not a tar" * 100)
    with pytest.raises(InvalidLayer):
        apply(tmp_path, b"")
    data = make_tar(("big", "f", {"data": b"x" * 100_000}))
    with pytest.raises(InvalidLayer):
        apply(tmp_path / "t", data[:5000]) if (tmp_path / "t").mkdir() is None else None


@root_only
def test_fast_path_keeps_owner_and_mode_exact(tmp_path: Path) -> None:
    """Skipped chown/chmod must never show: root files in a setgid directory owned by
    another group, modes the umask would cut, setuid bits, a replaced file."""
    data = make_tar(
        ("g/", "d", {"mode": 0o2775, "gid": 50}),
        ("g/rootfile", "f", {"data": b"r", "mode": 0o644}),
        ("g/sub/", "d", {"mode": 0o755}),
        ("open", "f", {"data": b"o", "mode": 0o777}),
        ("suid", "f", {"data": b"s", "mode": 0o4711}),
        ("again", "f", {"data": b"first", "mode": 0o600, "uid": 3}),
        ("again", "f", {"data": b"second", "mode": 0o640}),
    )
    apply(tmp_path, data)

    def own(rel: str) -> tuple[int, int, int]:
        st = os.lstat(tmp_path / rel)
        return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)

    assert own("g") == (0, 50, 0o2775)
    assert own("g/rootfile") == (0, 0, 0o644)  # not the setgid parent's group
    assert own("g/sub") == (0, 0, 0o755)
    assert own("open") == (0, 0, 0o777)  # not cut by the umask
    assert own("suid") == (0, 0, 0o4711)
    assert own("again") == (0, 0, 0o640) and (tmp_path / "again").read_bytes() == b"second"


def test_sparse_member(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    sparse = src / "sparse"
    with open(sparse, "wb") as f:
        f.seek(1 << 20)
        f.write(b"end")
    tar = tmp_path / "l.tar"
    subprocess.run(["tar", "-cSf", str(tar), "-C", str(src), "sparse"], check=True)
    out = tmp_path / "out"
    out.mkdir()
    apply(out, tar.read_bytes())
    got = out / "sparse"
    assert got.read_bytes() == b"\0" * (1 << 20) + b"end"
    assert os.stat(got).st_blocks * 512 < 1 << 20  # the hole is still a hole


def test_into_a_non_empty_root(tmp_path: Path) -> None:
    (tmp_path / "old").write_text("old")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "keep").write_text("keep")
    apply(
        tmp_path,
        make_tar(("old", "f", {"data": b"new"}), ("d/", "d"), ("d/n", "f", {"data": b"n"})),
    )
    assert (tmp_path / "old").read_text() == "new"
    assert sorted(os.listdir(tmp_path / "d")) == ["keep", "n"]


def test_pooled_writes_keep_archive_order(tmp_path: Path) -> None:
    """Small files are written by threads; whatever comes later in the archive
    (a replacement, a hard link, a whiteout, a child under a file) still sees them."""
    entries: list[tuple] = [(f"many/f{i}", "f", {"data": b"%d" % i}) for i in range(600)]
    entries += [
        ("many/f1", "f", {"data": b"replaced"}),
        ("many/h", "h", {"target": "many/f2"}),
        ("many/.wh.f3", "f", {"data": b""}),
        ("many/f4", "d", {}),
        ("many/f4/x", "f", {"data": b"x"}),
    ]
    apply(tmp_path, make_tar(*entries))
    assert (tmp_path / "many/f0").read_bytes() == b"0"
    assert (tmp_path / "many/f1").read_bytes() == b"replaced"
    assert os.lstat(tmp_path / "many/h").st_ino == os.lstat(tmp_path / "many/f2").st_ino
    assert stat.S_ISCHR(os.lstat(tmp_path / "many/f3").st_mode)
    assert (tmp_path / "many/f4/x").read_bytes() == b"x"
    assert (tmp_path / "many/f599").read_bytes() == b"599"
    out = tmp_path / "o2"
    out.mkdir()
    with pytest.raises(InvalidLayer, match="is not a directory"):
        apply(out, make_tar(("a", "f", {"data": b"1"}), ("a/b", "f", {"data": b"2"})))


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_fast_header_parse_matches_tarfile(fmt: int) -> None:
    """Every header of archives in the three formats (long names in a ustar
    prefix, devices, links, big ids, V7 directories) parses as tarfile parses it."""
    from dockyard.tarheader import FastTarInfo as _TarInfo

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, kind, extra in [
            ("usr/lib/file", tarfile.REGTYPE, {"size": 3}),
            ("d/" * 40 + "deep", tarfile.REGTYPE, {}),  # ustar prefix / GNU longname / PAX path
            ("dir/", tarfile.DIRTYPE, {"mode": 0o2755}),
            ("dev/null", tarfile.CHRTYPE, {"devmajor": 1, "devminor": 3}),
            ("link", tarfile.SYMTYPE, {"linkname": "usr/lib/file"}),
            ("hard", tarfile.LNKTYPE, {"linkname": "usr/lib/file"}),
            ("ids", tarfile.REGTYPE, {"uid": 65534, "gid": 0o7777777, "mtime": 1 << 32}),
        ]:
            ti = tarfile.TarInfo(name)
            ti.type = kind
            ti.uname, ti.gname = "root", "wheel"
            for k, v in extra.items():
                setattr(ti, k, v)
            tf.addfile(ti, io.BytesIO(b"abc"[: ti.size]))
    data = buf.getvalue()
    for off in range(0, len(data) - 1024, 512):
        block = data[off : off + 512]
        try:
            want = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError:
            continue  # data blocks, end of archive
        got = _TarInfo.frombuf(block, "utf-8", "surrogateescape")
        assert got.get_info() == want.get_info(), off
    v7 = tarfile.TarInfo("olddir/").tobuf(tarfile.USTAR_FORMAT)  # a regular "file" named x/
    v7 = v7[:156] + tarfile.AREGTYPE + v7[157:]
    v7 = v7[:148] + b"%06o\0 " % (sum(v7[:148]) + sum(v7[156:]) + 256) + v7[156:]
    got, want = (c.frombuf(v7, "utf-8", "strict") for c in (_TarInfo, tarfile.TarInfo))
    assert got.get_info() == want.get_info() and got.isdir()
    bad = bytearray(data[:512])
    bad[0] ^= 1
    with pytest.raises(tarfile.InvalidHeaderError):
        _TarInfo.frombuf(bytes(bad), "utf-8", "strict")
