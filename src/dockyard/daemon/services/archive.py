"""`docker cp`: GET/PUT/HEAD /containers/{id}/archive over a container's root.

Every path is resolved inside the container root with openat2
RESOLVE_IN_ROOT (`dockyard.rootpath`): symlinks in the path are followed as
the container would see them, never out of its root. Reads walk the tree
through directory fds (`os.fwalk`, files opened O_NOFOLLOW relative to their
directory); writes go through the project's one extractor (`dockyard.untar`,
PLAIN mode) rooted at the destination directory's fd (`/proc/self/fd/N`): names
in the archive are resolved inside it as dockerd's chrooted untar resolves
them, nothing climbs out. A running container is frozen (runtime pause) for the
duration of a copy, so its processes cannot swap a symlink in mid-copy
(the CVE-2018-15664 class); a stopped one has its snapshot mounted for the
time of the copy.

Python's tarfile builds the headers, as in `snapshot/diff.py`.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import posixpath
import stat
import tarfile
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

from dockyard.api.errors import InvalidParameter, NotFound, SystemError_
from dockyard.rootpath import openat_in_root
from dockyard.untar import PLAIN, untar

STAT_HEADER = "X-Docker-Container-Path-Stat"
_CHUNK = 1 << 20
# Go's os.FileMode bits, as Docker puts them in the stat header.
_GO_DIR = 1 << 31
_GO_SYMLINK = 1 << 27
_GO_DEVICE = 1 << 26
_GO_PIPE = 1 << 25
_GO_SOCKET = 1 << 24
_GO_SETUID = 1 << 23
_GO_SETGID = 1 << 22
_GO_CHARDEV = 1 << 21
_GO_STICKY = 1 << 20


def go_mode(st_mode: int) -> int:
    m = st_mode & 0o777
    kind = stat.S_IFMT(st_mode)
    m |= {
        stat.S_IFDIR: _GO_DIR,
        stat.S_IFLNK: _GO_SYMLINK,
        stat.S_IFBLK: _GO_DEVICE,
        stat.S_IFCHR: _GO_DEVICE | _GO_CHARDEV,
        stat.S_IFIFO: _GO_PIPE,
        stat.S_IFSOCK: _GO_SOCKET,
    }.get(kind, 0)
    if st_mode & stat.S_ISUID:
        m |= _GO_SETUID
    if st_mode & stat.S_ISGID:
        m |= _GO_SETGID
    if st_mode & stat.S_ISVTX:
        m |= _GO_STICKY
    return m


def _rfc3339(ts: float) -> str:
    t = time.gmtime(ts)
    frac = f"{ts % 1:.9f}"[1:].rstrip("0").rstrip(".")
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + frac + "Z"


def encode_stat(name: str, st: os.stat_result, link_target: str) -> str:
    doc = {
        "name": name,
        "size": st.st_size,
        "mode": go_mode(st.st_mode),
        "mtime": _rfc3339(st.st_mtime),
        "linkTarget": link_target,
    }
    return base64.b64encode(json.dumps(doc).encode()).decode()


def _clean(path: str) -> str:
    if not path:
        raise InvalidParameter("path cannot be empty")
    return posixpath.normpath("/" + path.lstrip("/"))


class PathNotFound(NotFound):
    """`path` is not in the container; the router adds the container's name."""

    def __init__(self, path: str) -> None:
        super().__init__(f"Could not find the file {path} in container")
        self.path = path


def _follow_final(path: str) -> bool:
    """`docker cp c:/link` copies the link; `c:/link/` or `/link/.` what it names."""
    return path.endswith("/") or path.endswith("/.")


def open_path(root_fd: int, path: str, follow: bool) -> tuple[int, str]:
    """An O_PATH fd for `path` inside the root, and its base name."""
    clean = _clean(path)
    parent, base = posixpath.split(clean)
    flags = os.O_PATH
    try:
        if follow or base == "":
            return openat_in_root(root_fd, clean, flags), base or "/"
        pfd = openat_in_root(root_fd, parent, flags | os.O_DIRECTORY)
        try:
            return os.open(base, flags | os.O_NOFOLLOW, dir_fd=pfd), base
        finally:
            os.close(pfd)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise PathNotFound(path) from None
        raise


def stat_path(root: str, path: str) -> str:
    """The base64 stat header for `path` (HEAD and GET)."""
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd, name = open_path(root_fd, path, _follow_final(path))
        try:
            st = os.stat(fd)
            target = ""
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink("", dir_fd=fd)
            return encode_stat(name, st, target)
        finally:
            os.close(fd)
    finally:
        os.close(root_fd)


class _Sink:
    """A file-like object tarfile writes to; the bytes come out as chunks."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def write(self, data: bytes) -> int:
        self.buf += data
        return len(data)

    def take(self) -> bytes:
        out = bytes(self.buf)
        self.buf.clear()
        return out


def _add_file(
    tf: tarfile.TarFile, sink: _Sink, name: str, fd: int, st: os.stat_result
) -> Iterator[bytes]:
    ti = tarfile.TarInfo(name)
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.uid, ti.gid = st.st_uid, st.st_gid
    ti.mtime = int(st.st_mtime)
    ti.size = st.st_size
    ti.type = tarfile.REGTYPE
    tf.addfile(ti)  # header only; data follows
    remaining = st.st_size
    while remaining > 0:
        chunk = os.read(fd, min(_CHUNK, remaining))
        if not chunk:
            chunk = b"\0" * remaining  # the file shrank: pad as tar must
        tf.fileobj.write(chunk)  # type: ignore[union-attr]
        remaining -= len(chunk)
        yield sink.take()
    pad = (-st.st_size) % tarfile.BLOCKSIZE
    if pad:
        tf.fileobj.write(b"\0" * pad)  # type: ignore[union-attr]
    tf.offset += st.st_size + pad


def _info(name: str, st: os.stat_result, kind: bytes, link: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.uid, ti.gid = st.st_uid, st.st_gid
    ti.mtime = int(st.st_mtime)
    ti.type = kind
    ti.linkname = link
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    return ti


def _entry(tf: tarfile.TarFile, sink: _Sink, name: str, dir_fd: int, base: str) -> Iterator[bytes]:
    st = os.stat(base, dir_fd=dir_fd, follow_symlinks=False)
    mode = st.st_mode
    if stat.S_ISREG(mode):
        try:
            fd = os.open(base, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError:
            return
        try:
            yield from _add_file(tf, sink, name, fd, os.fstat(fd))
        finally:
            os.close(fd)
    elif stat.S_ISLNK(mode):
        tf.addfile(_info(name, st, tarfile.SYMTYPE, os.readlink(base, dir_fd=dir_fd)))
    elif stat.S_ISDIR(mode):
        tf.addfile(_info(name + "/", st, tarfile.DIRTYPE))
    elif stat.S_ISCHR(mode):
        tf.addfile(_info(name, st, tarfile.CHRTYPE))
    elif stat.S_ISBLK(mode):
        tf.addfile(_info(name, st, tarfile.BLKTYPE))
    elif stat.S_ISFIFO(mode):
        tf.addfile(_info(name, st, tarfile.FIFOTYPE))
    yield sink.take()


def tar_path(root: str, path: str) -> tuple[str, Iterator[bytes]]:
    """The stat header and the tar stream of `path` (a file or a tree) in root."""
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd, name = open_path(root_fd, path, _follow_final(path))
    finally:
        os.close(root_fd)
    st = os.stat(fd)
    target = os.readlink("", dir_fd=fd) if stat.S_ISLNK(st.st_mode) else ""
    header = encode_stat(name, st, target)
    if path.endswith("/."):
        name = "."
    return header, _stream(fd, name, st)


def _stream(fd: int, name: str, st: os.stat_result) -> Iterator[bytes]:
    sink = _Sink()
    try:
        tf = tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]
        if not stat.S_ISDIR(st.st_mode):
            # Re-open the file itself through its O_PATH fd, never by name.
            if stat.S_ISREG(st.st_mode):
                rfd = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
                try:
                    yield from _add_file(tf, sink, name, rfd, os.fstat(rfd))
                finally:
                    os.close(rfd)
            elif stat.S_ISLNK(st.st_mode):
                tf.addfile(_info(name, st, tarfile.SYMTYPE, os.readlink("", dir_fd=fd)))
            else:
                kind = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.FIFOTYPE
                tf.addfile(_info(name, st, kind))
        else:
            dfd = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                tf.addfile(_info(name + "/", st, tarfile.DIRTYPE))
                yield sink.take()
                for dirpath, dirnames, filenames, dirfd in os.fwalk(".", dir_fd=dfd):
                    dirnames.sort()
                    for base in sorted(dirnames + filenames):
                        rel = posixpath.normpath(posixpath.join(name, dirpath, base))
                        try:
                            yield from _entry(tf, sink, rel, dirfd, base)
                        except FileNotFoundError:
                            continue
            finally:
                os.close(dfd)
        tf.close()
        yield sink.take()
    finally:
        os.close(fd)


def _extract_point(root: str, path: str) -> int:
    """An O_PATH fd of the directory `path` inside root: dockerd's checks of a PUT's
    target (missing: 404; not a directory: 500, as dockerd wraps it)."""
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fd = openat_in_root(root_fd, _clean(path), os.O_PATH)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                raise PathNotFound(path) from None
            raise
    finally:
        os.close(root_fd)
    if not stat.S_ISDIR(os.stat(fd).st_mode):
        os.close(fd)
        raise SystemError_("extraction point is not a directory")
    return fd


def check_extract_point(root: str, path: str) -> None:
    """Refuse a PUT's target before its body is read."""
    os.close(_extract_point(root, path))


def extract(root: str, path: str, stream: BinaryIO, no_overwrite_dir_non_dir: bool) -> None:
    """Unpack the tar `stream` into the directory `path` inside root."""
    fd = _extract_point(root, path)
    try:
        untar(f"/proc/self/fd/{fd}", stream, mode=PLAIN, scope=(root, _clean(path)),
              no_overwrite_dir_non_dir=_clean(path) if no_overwrite_dir_non_dir else None)  # fmt: skip
    finally:
        os.close(fd)


def parse_stat(header: str) -> dict[str, Any]:
    return json.loads(base64.b64decode(header))
