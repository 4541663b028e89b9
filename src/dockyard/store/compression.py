"""Layer compression: detect by magic bytes, decompress as a stream.

gzip goes through python-isal's zlib-compatible decompressor (Intel ISA-L):
1.7-2.2x zlib's speed on layer-like data (measured here: 337-361 MB/s vs
155-208 MB/s on 195 MB). zstd goes through `zstandard` in-process: 5.3 GB/s
vs 1.6 GB/s piping through the `zstd` binary with a feeder thread, and no
process per layer. bzip2 and xz use the standard library.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from typing import BinaryIO, Protocol

from isal import isal_zlib

from dockyard.api.errors import InvalidParameter

NONE, GZIP, BZIP2, XZ, ZSTD = "none", "gzip", "bzip2", "xz", "zstd"
_CHUNK = 1 << 20


class _Decompressor(Protocol):
    eof: bool
    unused_data: bytes

    def decompress(self, data: bytes, max_length: int = ...) -> bytes: ...


def detect(head: bytes) -> str:
    if head.startswith(b"\x1f\x8b"):
        return GZIP
    if head.startswith(b"BZh"):
        return BZIP2
    if head.startswith(b"\xfd7zXZ\x00"):
        return XZ
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return ZSTD
    return NONE


class PeekReader:
    """A reader that lets the first bytes be looked at before they are consumed."""

    def __init__(self, src: BinaryIO) -> None:
        self._src = src
        self._buf = b""

    def peek(self, n: int) -> bytes:
        while len(self._buf) < n:
            more = self._src.read(n - len(self._buf))
            if not more:
                break
            self._buf += more
        return self._buf[:n]

    def read(self, n: int = -1) -> bytes:
        if self._buf:
            if n < 0:
                out, self._buf = self._buf + self._src.read(), b""
                return out
            out, self._buf = self._buf[:n], self._buf[n:]
            if len(out) < n:  # the peeked bytes and the rest asked for, not a short read
                out += self._src.read(n - len(out))
            return out
        return self._src.read(n)


class _StreamDecompressor:
    """An incremental decompressor as a reader; concatenated members/streams are followed."""

    def __init__(self, src: BinaryIO, factory: object, name: str) -> None:
        self._src = src
        self._factory = factory
        self._name = name
        self._zlib = name == GZIP
        self._d: _Decompressor = factory()  # type: ignore[operator]

    def read(self, n: int = -1) -> bytes:
        limit = _CHUNK * 4 if n is None or n < 0 else n
        while True:
            if self._d.eof:
                rest = self._d.unused_data
                while not rest.strip(b"\0"):  # end, or zero padding after the last member
                    rest = self._src.read(_CHUNK)
                    if not rest:
                        return b""
                self._d = self._factory()  # type: ignore[operator]
                data = rest
            elif self._zlib and self._d.unconsumed_tail:  # type: ignore[attr-defined]
                data = self._d.unconsumed_tail  # type: ignore[attr-defined]
            elif not self._zlib and not self._d.needs_input:  # type: ignore[attr-defined]
                data = b""
            else:
                data = self._src.read(_CHUNK)
                if not data:
                    raise InvalidParameter(f"unexpected end of {self._name} stream")
            try:
                out = self._d.decompress(data, limit)
            except (OSError, zlib.error, isal_zlib.error, lzma.LZMAError, EOFError) as exc:
                raise InvalidParameter(f"invalid {self._name} data: {exc}") from None
            if out:
                return out


def _gzip() -> _Decompressor:
    return isal_zlib.decompressobj(wbits=31)  # type: ignore[return-value]


class ZstdFrames:
    """Follows the zstd frame structure (RFC 8878) of the bytes fed to it without
    decompressing: headers are parsed, block contents skipped. `complete` says
    whether the input ended on a frame boundary; `zstandard`'s stream reader
    reports a truncated frame as a plain end of data, this catches it."""

    def __init__(self) -> None:
        self._skip = 0  # content bytes to pass over
        self._need = 4  # header bytes wanted next
        self._buf = b""
        self._state = "magic"
        self._checksum = False
        self.frames = 0

    @property
    def complete(self) -> bool:
        return self._state == "magic" and not self._buf and not self._skip and self.frames > 0

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._skip:
                n = min(self._skip, len(view))
                self._skip -= n
                view = view[n:]
                continue
            take = self._need - len(self._buf)
            self._buf += bytes(view[:take])
            view = view[take:]
            if len(self._buf) == self._need:
                self._header(self._buf)

    def _header(self, b: bytes) -> None:
        state, self._buf = self._state, b""
        if state == "magic":
            magic = int.from_bytes(b, "little")
            if magic == 0xFD2FB528:
                self._state, self._need = "fhd", 1
            elif magic & 0xFFFFFFF0 == 0x184D2A50:
                self._state, self._need = "skippable", 4
            else:
                raise InvalidParameter("invalid zstd data: bad frame magic")
        elif state == "skippable":
            self._skip = int.from_bytes(b, "little")
            self._state, self._need = "magic", 4
        elif state == "fhd":
            fhd = b[0]
            single = bool(fhd & 0x20)
            self._checksum = bool(fhd & 0x04)
            fcs = (1 if single else 0, 2, 4, 8)[fhd >> 6]
            did = (0, 1, 2, 4)[fhd & 3]
            self._skip = (0 if single else 1) + did + fcs
            self._state, self._need = "block", 3
        elif state == "block":
            h = int.from_bytes(b, "little")
            kind, size = (h >> 1) & 3, h >> 3
            if kind == 3:
                raise InvalidParameter("invalid zstd data: reserved block type")
            self._skip = 1 if kind == 1 else size
            if h & 1:  # last block
                self.frames += 1
                if self._checksum:
                    self._skip += 4
                self._state, self._need = "magic", 4


class _FrameTracked:
    def __init__(self, src: BinaryIO, frames: ZstdFrames) -> None:
        self._src, self._frames = src, frames

    def read(self, n: int = -1) -> bytes:
        data = self._src.read(n)
        if data:
            self._frames.feed(data)
        return data


class _Zstd:
    """zstd frames (concatenated ones followed) as a reader, via `zstandard`."""

    def __init__(self, src: BinaryIO) -> None:
        import zstandard

        self._error = zstandard.ZstdError
        self._frames = ZstdFrames()
        self._r = zstandard.ZstdDecompressor().stream_reader(
            _FrameTracked(src, self._frames),
            read_size=_CHUNK,
            read_across_frames=True,
            closefd=False,
        )

    def read(self, n: int = -1) -> bytes:
        try:
            data = self._r.read(n if n and n > 0 else _CHUNK)
        except self._error as exc:
            raise InvalidParameter(f"invalid zstd data: {exc}") from None
        if not data and not self._frames.complete:
            raise InvalidParameter("unexpected end of zstd stream")
        return data

    def close(self) -> None:
        self._r.close()


def decompressed(src: BinaryIO) -> tuple[str, BinaryIO]:
    """(compression, a reader of the uncompressed bytes) for a possibly compressed stream."""
    peek = PeekReader(src)
    kind = detect(peek.peek(6))
    if kind == GZIP:
        return kind, _StreamDecompressor(peek, _gzip, "gzip")  # type: ignore[return-value]
    if kind == BZIP2:
        return kind, _StreamDecompressor(peek, bz2.BZ2Decompressor, "bzip2")  # type: ignore[return-value]
    if kind == XZ:
        return kind, _StreamDecompressor(peek, lzma.LZMADecompressor, "xz")  # type: ignore[return-value]
    if kind == ZSTD:
        return kind, _Zstd(peek)  # type: ignore[return-value]
    return kind, peek  # type: ignore[return-value]
