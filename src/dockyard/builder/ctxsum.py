"""Content checksums of a build context's files, the COPY/ADD cache key's
part (path, type, mode, size, link target and bytes; not mtimes or owners, so
a fresh checkout of the same files hits the cache): `checksum` over any
`FileView`, and `TarStreamHasher`, which hashes a tar's files as the body
arrives so that receiving and hashing overlap.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from typing import Any

from dockyard.builder.fsview import HOST, FileView


class TarStreamHasher:
    """The sha256 of each regular file's bytes in a tar stream, computed as the
    stream passes (bytes in, no I/O), by (data offset, size): receiving a
    context and hashing it overlap. A key names a byte range of the stream,
    so a digest is right whatever the parse; anything odd (a bad header, a
    PAX size, compressed input) just stops it, and the index hashes the rest
    itself."""

    def __init__(self) -> None:
        self.digests: dict[tuple[int, int], str] = {}
        self._pos = 0  # stream offset of the next byte fed
        self._next = 0  # offset of the next header
        self._head = b""  # a header's first bytes, when it straddles chunks
        self._hash: Any = None  # the current file's hash, while inside its bytes
        self._start = self._end = 0
        self._done = False

    def feed(self, chunk: bytes) -> None:
        base, n = self._pos, len(chunk)
        self._pos += n
        view = memoryview(chunk)
        i = 0
        while i < n and not self._done:
            off = base + i
            if self._hash is not None:
                take = min(n - i, self._end - off)
                self._hash.update(view[i : i + take])
                i += take
                if off + take == self._end:
                    self.digests[(self._start, self._end - self._start)] = self._hash.hexdigest()
                    self._hash = None
            elif off < self._next:
                i += min(n - i, self._next - off)
            else:
                take = min(n - i, 512 - len(self._head))
                self._head += view[i : i + take].tobytes()
                i += take
                if len(self._head) == 512:
                    self._header(self._head, base + i)
                    self._head = b""

    def _header(self, head: bytes, data: int) -> None:
        try:
            ti = tarfile.TarInfo.frombuf(head, "utf-8", "surrogateescape")
        except tarfile.HeaderError:  # the end blocks, or not a tar
            self._done = True
            return
        self._next = data + ti.size + (-ti.size % 512)
        if ti.type in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE) and ti.size:
            self._hash = hashlib.sha256()
            self._start, self._end = data, data + ti.size


def checksum(
    paths: list[tuple[str, str]], fs: FileView = HOST, known: dict[str, str] | None = None
) -> str:
    """A content hash of (host path, name in the hash) pairs, walking dirs;
    `known` maps host paths to their bytes' sha256 where already hashed."""
    known = known or {}
    h = hashlib.sha256()

    def add(path: str, name: str) -> None:
        st = fs.lstat(path)
        mode = st.st_mode
        h.update(f"{name}\0{stat.S_IFMT(mode)}\0{stat.S_IMODE(mode):o}\0".encode())
        if stat.S_ISREG(mode):
            h.update(f"{st.st_size}\0".encode())
            digest = known.get(path)
            h.update((digest or fs.sha256(path)).encode())
        elif stat.S_ISLNK(mode):
            h.update(fs.readlink(path).encode() + b"\0")
        elif stat.S_ISDIR(mode):
            for child in sorted(fs.listdir(path)):
                add(os.path.join(path, child), f"{name}/{child}")

    for path, name in paths:
        add(path, name)
    return h.hexdigest()
