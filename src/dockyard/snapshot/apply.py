"""Layer apply: an uncompressed layer tar -> a snapshot directory, translating
Docker's whiteouts to overlayfs's (`.wh.x` -> 0/0 char device `x`,
`.wh..wh..opq` -> `trusted.overlay.opaque=y` on the parent).

No entry may leave the target: absolute names, names that climb out with
`..`, entries under a parent that is a symlink (or any non-directory), and
hard links to anything outside are rejected with `InvalidLayer`. Parents are
checked against a set of directories this extraction created or verified, so
the check costs one set lookup per entry; files are created with O_EXCL |
O_NOFOLLOW. The caller unpacks into a fresh active snapshot and removes it on
failure, so nothing half-written becomes visible.

Python's tarfile (stream mode) parses headers (PAX, GNU long names, xattrs);
file data is copied in 1 MiB reads. See bench/images.sh for the comparison
with GNU tar that justifies this choice.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import stat
import tarfile
from dataclasses import dataclass
from typing import BinaryIO

from dockyard.api.errors import InvalidParameter

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
_XATTR_PREFIX = "SCHILY.xattr."
_CHUNK = 1 << 20


class InvalidLayer(InvalidParameter):
    """A layer tar that is malformed or tries to write outside its target."""


@dataclass(frozen=True, slots=True)
class ApplyResult:
    diff_id: str  # sha256 of the uncompressed tar, "sha256:<hex>"
    tar_size: int  # bytes of the uncompressed tar
    size: int  # bytes of file content written


class HashingReader:
    """Reads from `src`, hashing (sha256) and optionally copying to `sink` what passes through."""

    def __init__(self, src: BinaryIO, sink: BinaryIO | None = None) -> None:
        self._src = src
        self._sink = sink
        self.hash = hashlib.sha256()
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._src.read(n)
        if data:
            self.hash.update(data)
            self.count += len(data)
            if self._sink is not None:
                self._sink.write(data)
        return data

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def clean_member_name(name: str) -> str:
    """A tar member name relative to the layer root ("." for the root), or InvalidLayer."""
    if name.startswith("/"):
        raise InvalidLayer(f"invalid layer: absolute path {name!r} in archive")
    rel = posixpath.normpath(name) if name else "."
    if rel == ".." or rel.startswith("../"):
        raise InvalidLayer(f"invalid layer: path {name!r} escapes the layer root")
    return rel


class _Extractor:
    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.dirs: set[str] = {"."}
        self.dir_times: list[tuple[str, int]] = []
        self.size = 0
        self.as_root = os.geteuid() == 0

    def path(self, rel: str) -> str:
        return self.root if rel == "." else self.root + "/" + rel

    def ensure_dir(self, rel: str, create: bool = True) -> None:
        """Make sure `rel` is a real directory inside root (never a symlink)."""
        if rel in self.dirs:
            return
        self.ensure_dir(posixpath.dirname(rel) or ".", create)
        p = self.path(rel)
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            if not create:
                raise InvalidLayer(f"invalid layer: {rel!r} does not exist") from None
            os.mkdir(p, 0o755)
            self.dirs.add(rel)
            return
        if not stat.S_ISDIR(st.st_mode):
            raise InvalidLayer(
                f"invalid layer: parent {rel!r} is not a directory (a symlink cannot be a parent)"
            )
        self.dirs.add(rel)

    def remove(self, rel: str, st: os.stat_result) -> None:
        p = self.path(rel)
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(p)
            prefix = rel + "/"
            self.dirs = {d for d in self.dirs if d != rel and not d.startswith(prefix)}
        else:
            os.unlink(p)

    def whiteout(self, m: tarfile.TarInfo, parent: str, base: str) -> None:
        self.ensure_dir(parent)
        if base == WHITEOUT_OPAQUE:
            os.setxattr(self.path(parent), OPAQUE_XATTR, b"y", follow_symlinks=False)
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not part of the tree
        name = base[len(WHITEOUT_PREFIX) :]
        rel = name if parent == "." else parent + "/" + name
        try:
            self.remove(rel, os.lstat(self.path(rel)))
        except FileNotFoundError:
            pass
        p = self.path(rel)
        os.mknod(p, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        if self.as_root:
            os.lchown(p, m.uid, m.gid)

    def entry(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        rel = clean_member_name(m.name)
        parent, base = posixpath.split(rel)
        parent = parent or "."
        if base.startswith(WHITEOUT_PREFIX):
            self.whiteout(m, parent, base)
            return
        if rel == ".":
            if not m.isdir():
                raise InvalidLayer("invalid layer: the root entry is not a directory")
        else:
            self.ensure_dir(parent)
        p = self.path(rel)
        try:
            st: os.stat_result | None = os.lstat(p)
        except FileNotFoundError:
            st = None
        if st is not None and not (m.isdir() and stat.S_ISDIR(st.st_mode)):
            self.remove(rel, st)
            st = None

        if m.isdir():
            if st is None:
                os.mkdir(p, 0o700)
            self.dirs.add(rel)
        elif m.isreg():
            fd = os.open(
                p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
            )
            try:
                src = tf.extractfile(m)
                assert src is not None
                remaining = m.size
                while remaining:
                    buf = src.read(min(_CHUNK, remaining))
                    if not buf:
                        raise InvalidLayer(f"invalid layer: unexpected end of data in {m.name!r}")
                    _write_all(fd, buf)
                    remaining -= len(buf)
            finally:
                os.close(fd)
            self.size += m.size
        elif m.issym():
            os.symlink(m.linkname, p)
        elif m.islnk():
            target = clean_member_name(m.linkname)
            if target == ".":
                raise InvalidLayer(f"invalid layer: hard link {m.name!r} to the root")
            self.ensure_dir(posixpath.dirname(target) or ".", create=False)
            tp = self.path(target)
            try:
                tst = os.lstat(tp)
            except FileNotFoundError:
                raise InvalidLayer(
                    f"invalid layer: hard link {m.name!r} to {m.linkname!r}, which is not in the layer"
                ) from None
            if stat.S_ISDIR(tst.st_mode):
                raise InvalidLayer(f"invalid layer: hard link {m.name!r} to a directory")
            os.link(tp, p, follow_symlinks=False)
            return  # the inode's attributes came with its first name
        elif m.ischr() or m.isblk() or m.isfifo():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
            os.mknod(p, kind | (m.mode & 0o7777), os.makedev(m.devmajor, m.devminor))
        else:
            return  # unknown types (e.g. GNU volume headers) carry no file
        self.attrs(m, p, rel)

    def attrs(self, m: tarfile.TarInfo, p: str, rel: str) -> None:
        if self.as_root:
            os.lchown(p, m.uid, m.gid)
        if not m.issym():
            os.chmod(p, m.mode & 0o7777)
        for k, v in m.pax_headers.items():
            if k.startswith(_XATTR_PREFIX):
                os.setxattr(
                    p,
                    k[len(_XATTR_PREFIX) :],
                    v.encode("utf-8", "surrogateescape"),
                    follow_symlinks=False,
                )
        ns = int(m.mtime * 1_000_000_000)
        if m.isdir():
            self.dir_times.append((p, ns))
        else:
            os.utime(p, ns=(ns, ns), follow_symlinks=False)

    def finish(self) -> None:
        for p, ns in reversed(self.dir_times):
            try:
                os.utime(p, ns=(ns, ns), follow_symlinks=False)
            except FileNotFoundError:
                pass  # replaced by a later entry


def _write_all(fd: int, buf: bytes) -> None:
    view = memoryview(buf)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def apply_layer(root: str, stream: BinaryIO) -> ApplyResult:
    """Unpack the uncompressed layer tar `stream` into the empty directory `root`.

    Returns the diff id (sha256 of every byte read, trailing padding included).
    Raises InvalidLayer for malformed or escaping archives; `root` is then left
    in an unspecified state for the caller to discard.
    """
    reader = stream if isinstance(stream, HashingReader) else HashingReader(stream)
    ex = _Extractor(root)
    try:
        with tarfile.open(fileobj=reader, mode="r|", errorlevel=2) as tf:  # type: ignore[call-overload]
            for m in tf:
                ex.entry(tf, m)
    except (tarfile.TarError, EOFError) as exc:
        raise InvalidLayer(f"invalid layer: {exc}") from None
    ex.finish()
    reader.drain()
    return ApplyResult(reader.digest, reader.count, ex.size)
