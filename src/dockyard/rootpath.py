"""Open paths inside a container root so that no `..` or symlink leads out of it.

`openat2(2)` with RESOLVE_IN_ROOT makes the kernel resolve every component
as if `root` were `/` (kernel ≥ 5.6): absolute symlinks and `..` stay inside.
That is the one mechanism every caller uses for reading files of a rootfs
(passwd, group, `docker cp`, the tar extractor) instead of joining and checking
strings. Where the kernel has no openat2 (ENOSYS), the same resolution is done
in user space: one component at a time with O_NOFOLLOW, symlinks read and
expanded by hand, `..` popping a stack of directory fds that never goes above
the root; slower, but still immune to a symlink swapped in on the way.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from typing import BinaryIO

_SYS_OPENAT2 = 437  # the same number on x86_64 and the generic table (aarch64)
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_HAVE_OPENAT2 = True  # cleared at the first ENOSYS (tests clear it to run the fallback)
_MAX_LINKS = 40  # the kernel's limit on symlinks followed in one lookup


def openat_in_root(root_fd: int, path: str, flags: int = os.O_RDONLY, mode: int = 0) -> int:
    """A file descriptor for `path` resolved inside the directory `root_fd`."""
    global _HAVE_OPENAT2
    if _HAVE_OPENAT2:
        how = _OpenHow(flags | os.O_CLOEXEC, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
        fd = _libc.syscall(
            _SYS_OPENAT2, root_fd, os.fsencode(path), ctypes.byref(how), ctypes.sizeof(how)
        )
        if fd >= 0:
            return int(fd)
        err = ctypes.get_errno()
        if err != errno.ENOSYS:
            raise OSError(err, os.strerror(err), path)
        _HAVE_OPENAT2 = False
    return _walk_in_root(root_fd, path, flags, mode)


def _walk_in_root(root_fd: int, path: str, flags: int, mode: int) -> int:
    """RESOLVE_IN_ROOT done by hand (see the module docstring)."""
    stack = [os.dup(root_fd)]  # stack[0] is the root; `..` never pops it
    parts = [p for p in path.split("/") if p not in ("", ".")]
    parts.reverse()  # a stack: the next component last
    links = 0
    try:
        while parts:
            name = parts.pop()
            if name == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            st = os.stat(name, dir_fd=stack[-1], follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > _MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                target = os.readlink(name, dir_fd=stack[-1])
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                parts.extend(reversed([p for p in target.split("/") if p not in ("", ".")]))
                continue
            if not parts:
                return _open_last(stack[-1], name, flags, mode, path)
            if not stat.S_ISDIR(st.st_mode):
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
            stack.append(_open_last(stack[-1], name, os.O_PATH | os.O_DIRECTORY, 0, path))
        return os.open(".", flags | os.O_CLOEXEC, mode, dir_fd=stack[-1])
    finally:
        for fd in stack:
            os.close(fd)


def _open_last(dir_fd: int, name: str, flags: int, mode: int, path: str) -> int:
    """`name` under `dir_fd`, never through a symlink swapped in since it was checked."""
    fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    if stat.S_ISLNK(os.fstat(fd).st_mode):  # O_PATH | O_NOFOLLOW opens the link itself
        os.close(fd)
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
    return fd


def open_in_root(root: str, path: str) -> BinaryIO:
    """`open(path, "rb")` as seen from inside `root`."""
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = openat_in_root(root_fd, path)
    finally:
        os.close(root_fd)
    return os.fdopen(fd, "rb")
