"""Layer diff: upper dir -> tar -> apply gives the same tree; overlay whiteouts
come out as Docker's; the stream is deterministic."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockyard.snapshot.apply import apply_layer
from dockyard.snapshot.diff import diff, write_diff

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root (mknod, trusted xattrs, chown)"
)


def _tree(root: Path) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            data = open(p, "rb").read() if stat.S_ISREG(st.st_mode) else None
            link = os.readlink(p) if stat.S_ISLNK(st.st_mode) else None
            xattrs = {
                n: os.getxattr(p, n, follow_symlinks=False)
                for n in os.listxattr(p, follow_symlinks=False)
            }
            whiteout = stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
            mtime = None if stat.S_ISLNK(st.st_mode) or whiteout else int(st.st_mtime)
            out[rel] = (st.st_mode, st.st_uid, st.st_gid, st.st_rdev, data, link, xattrs, mtime)
    return out


def _sample(root: Path) -> None:
    (root / "etc").mkdir()
    (root / "etc/conf").write_bytes(b"c" * 5000)
    os.chown(root / "etc/conf", 12, 34)
    os.chmod(root / "etc/conf", 0o4750)
    os.link(root / "etc/conf", root / "etc/conf.hard")
    os.symlink("conf", root / "etc/link")
    os.mknod(root / "gone", stat.S_IFCHR, 0)  # overlay whiteout
    (root / "opq").mkdir()
    os.setxattr(root / "opq", "trusted.overlay.opaque", b"y")
    (root / "opq/inside").write_text("i")
    os.mknod(root / "fifo", stat.S_IFIFO | 0o644)
    os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    (root / "x").write_text("")
    os.setxattr(root / "x", "user.k", b"\xff\x00binary")
    for p in sorted(root.rglob("*"), reverse=True):
        os.utime(p, (1_600_000_000, 1_600_000_000), follow_symlinks=False)


def test_round_trip(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    _sample(src)
    data = b"".join(diff(str(src)))
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        names = tf.getnames()
    assert ".wh.gone" in names and "opq/.wh..wh..opq" in names and "gone" not in names
    res = apply_layer(str(dst), io.BytesIO(data))
    assert res.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert _tree(dst) == _tree(src)
    assert os.lstat(dst / "etc/conf").st_ino == os.lstat(dst / "etc/conf.hard").st_ino


def test_deterministic(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _sample(src)
    chunks: list[bytes] = []
    write_diff(str(src), chunks.append)
    assert b"".join(chunks) == b"".join(diff(str(src)))
