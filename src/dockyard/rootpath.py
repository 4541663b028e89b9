"""Open paths inside a container root so that no `..` or symlink leads out of it.

`openat2(2)` with RESOLVE_IN_ROOT makes the kernel resolve every component
as if `root` were `/` (kernel ≥ 5.6): absolute symlinks and `..` stay inside.
That is the one mechanism every caller uses for reading files of a rootfs
(passwd, group, `docker cp` later) instead of joining and checking strings.
"""

from __future__ import annotations

import ctypes
import os
from typing import BinaryIO

_SYS_OPENAT2 = 437  # the same number on x86_64 and the generic table (aarch64)
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def openat_in_root(root_fd: int, path: str, flags: int = os.O_RDONLY, mode: int = 0) -> int:
    """A file descriptor for `path` resolved inside the directory `root_fd`."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
    fd = _libc.syscall(
        _SYS_OPENAT2, root_fd, os.fsencode(path), ctypes.byref(how), ctypes.sizeof(how)
    )
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return int(fd)


def open_in_root(root: str, path: str) -> BinaryIO:
    """`open(path, "rb")` as seen from inside `root`."""
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = openat_in_root(root_fd, path)
    finally:
        os.close(root_fd)
    return os.fdopen(fd, "rb")
