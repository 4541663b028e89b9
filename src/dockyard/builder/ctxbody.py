"""A build context's request body as received: kept in memory as the pieces
it arrived in (`Pieces`, read by tarfile through `PiecesFile`), or spooled to
one file and decompressed in place; and the check that bytes start a tar.
"""

from __future__ import annotations

import bisect
import io
import os
import tarfile
from collections.abc import Iterator

from dockyard.store.compression import NONE, decompressed

_CHUNK = 1 << 20


class Pieces:
    """A body kept in memory as the pieces it arrived in (not joined: no copy)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces: list[bytes] = []
        self.starts: list[int] = []
        self.size = 0
        for p in pieces:
            self.append(p)

    def append(self, piece: bytes) -> None:
        self.pieces.append(piece)
        self.starts.append(self.size)
        self.size += len(piece)

    def views(self, off: int, n: int) -> Iterator[memoryview]:
        i = max(bisect.bisect_right(self.starts, off) - 1, 0)
        while n > 0 and i < len(self.pieces):
            piece = self.pieces[i]
            lo = off - self.starts[i]
            take = min(n, len(piece) - lo)
            yield memoryview(piece)[lo : lo + take]
            off, n, i = off + take, n - take, i + 1

    def pread(self, off: int, n: int) -> bytes:
        return b"".join(self.views(off, n))


class PiecesFile(io.RawIOBase):
    """`Pieces` as the seekable file tarfile reads headers from."""

    def __init__(self, pieces: Pieces) -> None:
        self._p = pieces
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, off: int, whence: int = 0) -> int:
        self._pos = off if whence == 0 else self._pos + off if whence == 1 else self._p.size + off
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            n = max(self._p.size - self._pos, 0)
        data = self._p.pread(self._pos, n)
        self._pos += len(data)
        return data


def decompress_in_place(spool: str) -> tuple[bool, bool]:
    """Replace a compressed spool by its plain bytes; (whether they are a tar,
    whether they were plain already)."""
    with open(spool, "rb") as f:
        kind, raw = decompressed(f)
        if kind == NONE:
            f.seek(0)
            return is_tar_header(f.read(512)), True
        with open(spool + ".plain", "wb") as out:
            while chunk := raw.read(_CHUNK):
                out.write(chunk)
    os.rename(spool + ".plain", spool)
    with open(spool, "rb") as plain:
        return is_tar_header(plain.read(512)), False


def is_tar_header(head: bytes) -> bool:
    if len(head) < 512:
        return head == b"" or not head.strip(b"\0")
    if head[257:262] == b"ustar" or not head.strip(b"\0"):
        return True
    try:
        tarfile.TarInfo.frombuf(head, "utf-8", "surrogateescape")
        return True
    except tarfile.HeaderError:
        return False
