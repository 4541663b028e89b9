"""Layer compression: detect by magic bytes, decompress as a stream.

gzip, bzip2 and xz use the standard library's incremental decompressors;
zstd (not in Python 3.11's stdlib) is piped through the `zstd` binary with a
feeder thread, so no extra dependency is needed.
"""

from __future__ import annotations

import bz2
import lzma
import shutil
import subprocess
import threading
import zlib
from typing import BinaryIO, Protocol

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
            except (OSError, zlib.error, lzma.LZMAError, EOFError) as exc:
                raise InvalidParameter(f"invalid {self._name} data: {exc}") from None
            if out:
                return out


def _gzip() -> _Decompressor:
    return zlib.decompressobj(wbits=31)  # type: ignore[return-value]


class _Zstd:
    """`zstd -dc` fed by a thread: output is read by the caller."""

    def __init__(self, src: BinaryIO) -> None:
        exe = shutil.which("zstd")
        if exe is None:
            raise InvalidParameter("zstd-compressed layers need the zstd program")
        self._p = subprocess.Popen([exe, "-dcq"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._err: BaseException | None = None
        self._t = threading.Thread(target=self._feed, args=(src,), daemon=True)
        self._t.start()

    def _feed(self, src: BinaryIO) -> None:
        assert self._p.stdin is not None
        try:
            while chunk := src.read(_CHUNK):
                self._p.stdin.write(chunk)
        except BrokenPipeError:
            pass
        except BaseException as exc:
            self._err = exc
        finally:
            try:
                self._p.stdin.close()
            except BrokenPipeError:
                pass

    def read(self, n: int = -1) -> bytes:
        assert self._p.stdout is not None
        data = self._p.stdout.read1(n if n and n > 0 else _CHUNK)  # type: ignore[attr-defined]
        if not data:
            self._t.join()
            rc = self._p.wait()
            if self._err is not None:
                raise self._err
            if rc != 0:
                raise InvalidParameter("invalid zstd data")
        return data

    def close(self) -> None:
        if self._p.poll() is None:
            self._p.kill()
        self._p.wait()
        self._t.join()


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
