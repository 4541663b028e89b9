"""Writing a context's indexed entries into its directory (`TarContext.unpack`):
every component is opened with O_NOFOLLOW from a directory fd, so neither the
tar nor what an earlier build left in the directory leads a write outside it;
an entry replaces what is in its place.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from typing import Any

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def under(rel: str, tops: set[str]) -> bool:
    """Whether `rel` is one of `tops` or lies below one."""
    while True:
        if rel in tops:
            return True
        if not rel:
            return False
        rel = rel.rpartition("/")[0]


def dir_fd(fds: dict[str, int], rel: str) -> int:
    """An fd of directory `rel`, made where missing or not a directory (no symlink followed)."""
    fd = fds.get(rel)
    if fd is not None:
        return fd
    parent, _, name = rel.rpartition("/")
    pfd = dir_fd(fds, parent)
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=pfd)
    except FileNotFoundError:
        os.mkdir(name, 0o755, dir_fd=pfd)
        fd = os.open(name, DIR_FLAGS, dir_fd=pfd)
    except OSError:  # a symlink (ELOOP) or a file (ENOTDIR) where a directory goes
        remove(pfd, name)
        os.mkdir(name, 0o755, dir_fd=pfd)
        fd = os.open(name, DIR_FLAGS, dir_fd=pfd)
    fds[rel] = fd
    return fd


def remove(dir_fd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        shutil.rmtree(name, dir_fd=dir_fd)


def write_entries(
    fds: dict[str, int], todo: list[tuple[str, Any]], copy_data: Callable[[Any, int], None]
) -> None:
    """Write `todo` (path, entry) under the directory `fds[""]`; `copy_data(entry, fd)`
    writes a regular file's bytes."""
    dirs = []
    for rel, e in todo:
        kind = stat.S_IFMT(e.st_mode)
        if kind == stat.S_IFDIR:
            dir_fd(fds, rel)
            dirs.append((rel, e))
            continue
        parent, _, name = rel.rpartition("/")
        pfd = dir_fd(fds, parent)
        remove(pfd, name)
        if kind == stat.S_IFLNK:
            os.symlink(e.link, name, dir_fd=pfd)
            if e.mtime_ns is not None:
                os.utime(name, ns=(e.mtime_ns, e.mtime_ns), dir_fd=pfd, follow_symlinks=False)
            continue
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, 0o600, dir_fd=pfd)
        try:
            copy_data(e, fd)
            os.fchmod(fd, stat.S_IMODE(e.st_mode))
            if e.mtime_ns is not None:
                os.utime(fd, ns=(e.mtime_ns, e.mtime_ns))
        finally:
            os.close(fd)
    # directories last and deepest first, so adding their entries left their mtimes alone
    for rel, e in sorted(dirs, key=lambda d: d[0].count("/") + bool(d[0]), reverse=True):
        fd = fds[rel]
        os.fchmod(fd, stat.S_IMODE(e.st_mode))
        if e.mtime_ns is not None:
            os.utime(fd, ns=(e.mtime_ns, e.mtime_ns))
