"""Linux inotify for `compose watch`: which watched directory trees changed, when they do.

A small ctypes binding (inotify_init1, inotify_add_watch, read of the event records)
rather than a PyPI package: three libc calls, and `watch` needs nothing else from
one. Directories are watched, whole trees (inotify is not recursive): a directory
created or moved in later is added as its events arrive. `Tree.wait` blocks until
something under a root changed (or the timeout), then waits for a short quiet spell
so an editor's burst of writes counts once, and says which roots changed.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE = 0x2, 0x4, 0x8
IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x40, 0x80, 0x100, 0x200
IN_DELETE_SELF, IN_MOVE_SELF, IN_Q_OVERFLOW, IN_IGNORED = 0x400, 0x800, 0x4000, 0x8000
IN_ISDIR, IN_NONBLOCK, IN_CLOEXEC = 0x40000000, 0o4000, 0o2000000
MASK = (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE
        | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)  # fmt: skip
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)
QUIET = 0.1  # seconds without events that end a burst

_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


class Unavailable(OSError):
    """No inotify here (or no watches left): the caller polls instead."""


class Tree:
    """Watches on directory trees, each under a key (the caller's rule)."""

    def __init__(self) -> None:
        fd = _lib().inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise Unavailable(ctypes.get_errno(), "inotify_init1")
        self.fd = fd
        # wd -> (directory, keys of the trees it belongs to)
        self._dirs: dict[int, tuple[str, set[object]]] = {}
        self._ignored: dict[object, Callable[[str], bool]] = {}

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Tree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, key: object, root: str, ignored: Callable[[str], bool] = lambda p: False) -> None:
        """Watch `root` (a directory tree; for a file, its directory) under `key`;
        `ignored(path)` leaves out directories the caller does not care about."""
        self._ignored[key] = ignored
        if os.path.isdir(root):
            self._add_tree(key, root)
        else:  # a file: editors replace it, so its directory is what to watch
            self._add_dir(key, os.path.dirname(root) or ".")

    def _add_tree(self, key: object, top: str) -> None:
        for dirpath, dirnames, _ in os.walk(top):
            self._add_dir(key, dirpath)
            dirnames[:] = [d for d in dirnames if not self._ignored[key](os.path.join(dirpath, d))]

    def _add_dir(self, key: object, path: str) -> None:
        wd = _lib().inotify_add_watch(self.fd, os.fsencode(path), MASK)
        if wd < 0:
            err = ctypes.get_errno()
            if err in (errno.ENOENT, errno.ENOTDIR):  # gone meanwhile
                return
            raise Unavailable(err, f"inotify_add_watch {path}")
        self._dirs.setdefault(wd, (path, set()))[1].add(key)

    def _read(self) -> list[tuple[int, int, str]]:
        try:
            data = os.read(self.fd, 64 * 1024)
        except BlockingIOError:
            return []
        out, pos = [], 0
        while pos < len(data):
            wd, mask, _cookie, size = _EVENT.unpack_from(data, pos)
            pos += _EVENT.size
            name = os.fsdecode(data[pos : pos + size].rstrip(b"\0"))
            pos += size
            out.append((wd, mask, name))
        return out

    def _take(self, events: list[tuple[int, int, str]], changed: set[object]) -> None:
        for wd, mask, name in events:
            if mask & IN_Q_OVERFLOW:  # events were lost: every tree may have changed
                changed.update(self._ignored)
                continue
            if wd not in self._dirs:
                continue
            path, keys = self._dirs[wd]
            changed.update(keys)
            if mask & IN_IGNORED:  # the directory went away
                del self._dirs[wd]
            elif mask & IN_ISDIR and mask & (IN_CREATE | IN_MOVED_TO):
                for key in keys:
                    sub = os.path.join(path, name)
                    if not self._ignored[key](sub):
                        self._add_tree(key, sub)

    def wait(self, timeout: float) -> set[object]:
        """Keys of the trees where something changed; empty if nothing did in `timeout`."""
        changed: set[object] = set()
        wait = timeout
        while True:
            ready, _, _ = select.select([self.fd], [], [], wait)
            if not ready:
                return changed
            self._take(self._read(), changed)
            wait = QUIET
