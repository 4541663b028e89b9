"""Layer diff: a snapshot's own directory (an overlay upper dir) -> a layer tar,
translating overlay whiteouts back to Docker's (0/0 char device `x` -> empty
`.wh.x`; a dir with `trusted.overlay.opaque=y` -> the dir plus `.wh..wh..opq`).

The stream is deterministic: names sorted, mtimes in whole seconds, no atime
or ctime, no user/group names, hard links as links to the first name seen;
the same tree always gives the same diff id (what commit/build caching needs).
Headers are built by tarfile; file data is streamed in 1 MiB reads.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Callable, Iterator

from dockyard.snapshot.apply import OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX

_CHUNK = 1 << 20
_SKIP_XATTR_PREFIX = "trusted.overlay."


def _xattrs(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for name in sorted(names):
        if name.startswith(_SKIP_XATTR_PREFIX):
            continue
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        out["SCHILY.xattr." + name] = value.decode("utf-8", "surrogateescape")
    return out


def _header(ti: tarfile.TarInfo) -> bytes:
    return ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _info(name: str, st: os.stat_result) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.uid, ti.gid = st.st_uid, st.st_gid
    ti.uname = ti.gname = ""
    ti.mtime = int(st.st_mtime)
    return ti


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def diff(upper_dir: str) -> Iterator[bytes]:
    """The layer tar of `upper_dir`, as chunks."""
    root = os.path.abspath(upper_dir)
    links: dict[tuple[int, int], str] = {}

    def walk(rel: str) -> Iterator[bytes]:
        d = root if not rel else os.path.join(root, rel)
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            arc = f"{rel}/{name}" if rel else name
            st = os.lstat(path)
            mode = st.st_mode
            if stat.S_ISCHR(mode) and st.st_rdev == 0:
                ti = _info(f"{rel}/{WHITEOUT_PREFIX}{name}" if rel else WHITEOUT_PREFIX + name, st)
                ti.mode = 0o600
                yield _header(ti)
                continue
            ti = _info(arc, st)
            ti.pax_headers = _xattrs(path)
            if stat.S_ISDIR(mode):
                ti.type = tarfile.DIRTYPE
                ti.name = arc + "/"
                yield _header(ti)
                if _is_opaque(path):
                    wo = _info(f"{arc}/{WHITEOUT_OPAQUE}", st)
                    wo.mode = ti.mode & 0o777
                    yield _header(wo)
                yield from walk(arc)
            elif stat.S_ISREG(mode):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in links:
                    ti.type = tarfile.LNKTYPE
                    ti.linkname = links[key]
                    yield _header(ti)
                    continue
                if st.st_nlink > 1:
                    links[key] = arc
                ti.size = st.st_size
                yield _header(ti)
                remaining = st.st_size
                with open(path, "rb") as f:
                    while remaining > 0:
                        chunk = f.read(min(_CHUNK, remaining))
                        if not chunk:
                            raise OSError(f"{path} shrank while being read")
                        remaining -= len(chunk)
                        yield chunk
                if st.st_size % 512:
                    yield b"\0" * (512 - st.st_size % 512)
            elif stat.S_ISLNK(mode):
                ti.type = tarfile.SYMTYPE
                ti.linkname = os.readlink(path)
                yield _header(ti)
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
                ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
                yield _header(ti)
            elif stat.S_ISFIFO(mode):
                ti.type = tarfile.FIFOTYPE
                yield _header(ti)
            # sockets are not part of a layer

    yield from walk("")
    yield b"\0" * 1024


def write_diff(upper_dir: str, write: Callable[[bytes], object]) -> None:
    """`diff` into a writer, in chunks of at least 1 MiB where possible."""
    buf = bytearray()
    for chunk in diff(upper_dir):
        buf += chunk
        if len(buf) >= _CHUNK:
            write(bytes(buf))
            buf.clear()
    if buf:
        write(bytes(buf))
