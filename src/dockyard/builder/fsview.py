"""The few filesystem reads COPY/ADD source globbing and cache checksums need
(lstat, listdir, readlink, a file's sha256), as one small interface with two
implementations: the host (`HOST`, plain `os` calls) and a context tar's
index (`context.TarContext`), so a cache key is computed by the same code
whether the context was unpacked or not."""

from __future__ import annotations

import hashlib
import os
import stat
from typing import Protocol


class StatLike(Protocol):
    @property
    def st_mode(self) -> int: ...

    @property
    def st_size(self) -> int: ...


class FileView(Protocol):
    """Paths are host paths; a missing one raises FileNotFoundError or NotADirectoryError."""

    def lstat(self, path: str) -> StatLike: ...

    def listdir(self, path: str) -> list[str]: ...

    def readlink(self, path: str) -> str: ...

    def sha256(self, path: str) -> str: ...


def lexists(fs: FileView, path: str) -> bool:
    try:
        fs.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def is_dir(fs: FileView, path: str) -> bool:
    """A directory itself (a symlink to one is not: resolve it first)."""
    try:
        return stat.S_ISDIR(fs.lstat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


class _Host:
    lstat = staticmethod(os.lstat)
    listdir = staticmethod(os.listdir)
    readlink = staticmethod(os.readlink)

    @staticmethod
    def sha256(path: str) -> str:
        h = hashlib.sha256()
        with open(path, "rb", buffering=0) as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        return h.hexdigest()


HOST: FileView = _Host()
