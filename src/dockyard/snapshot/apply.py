"""Layer apply: an uncompressed layer tar -> a snapshot directory, through the
project's one extractor (`dockyard.untar`, LAYER mode: whiteouts translated to
overlayfs's, nothing through a symlink, nothing outside the target), hashing
every byte read for the diff id.

The caller unpacks into a fresh active snapshot and removes it on failure, so
nothing half-written becomes visible.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import BinaryIO

from dockyard.untar import (
    LAYER,
    OPAQUE_XATTR,
    WHITEOUT_META_PREFIX,
    WHITEOUT_OPAQUE,
    WHITEOUT_PREFIX,
    InvalidLayer,
    untar,
)

__all__ = [
    "OPAQUE_XATTR",
    "WHITEOUT_META_PREFIX",
    "WHITEOUT_OPAQUE",
    "WHITEOUT_PREFIX",
    "ApplyResult",
    "HashingReader",
    "InvalidLayer",
    "apply_layer",
]

_CHUNK = 1 << 20


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


def apply_layer(root: str, stream: BinaryIO) -> ApplyResult:
    """Unpack the uncompressed layer tar `stream` into the empty directory `root`.

    Returns the diff id (sha256 of every byte read, trailing padding included).
    Raises InvalidLayer for malformed or escaping archives; `root` is then left
    in an unspecified state for the caller to discard.
    """
    reader = stream if isinstance(stream, HashingReader) else HashingReader(stream)
    size = untar(root, reader, mode=LAYER)  # type: ignore[arg-type]
    reader.drain()
    return ApplyResult(reader.digest, reader.count, size)
