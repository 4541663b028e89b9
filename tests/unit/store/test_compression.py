"""Stream decompression of layers: gzip (isal), zstd (zstandard + frame tracking),
concatenated members and frames, truncation reported, reads bounded."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import shutil
import subprocess

import pytest
import zstandard

from dockyard.api.errors import InvalidParameter
from dockyard.store.compression import ZstdFrames, decompressed

DATA = os.urandom(300_000) + bytes(2_000_000) + b"end"


def _read_all(data: bytes, size: int = 1 << 16) -> tuple[str, bytes]:
    kind, r = decompressed(io.BytesIO(data))
    out = bytearray()
    while chunk := r.read(size):
        assert len(chunk) <= size
        out += chunk
    return kind, bytes(out)


def _zstd_stream(data: bytes) -> bytes:
    co = zstandard.ZstdCompressor(write_content_size=False).compressobj()
    return co.compress(data) + co.flush()


def _skippable(payload: bytes) -> bytes:
    return (0x184D2A5A).to_bytes(4, "little") + len(payload).to_bytes(4, "little") + payload


CASES = {
    "none": lambda d: d,
    "gzip": lambda d: gzip.compress(d[:1000]) + gzip.compress(d[1000:]),  # two members
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": lambda d: (
        zstandard.ZstdCompressor(write_checksum=True).compress(d[:5000])
        + _skippable(b"metadata")
        + _zstd_stream(d[5000:])
    ),
}


@pytest.mark.parametrize("kind", CASES)
def test_round_trip(kind: str) -> None:
    assert _read_all(CASES[kind](DATA)) == (kind, DATA)


@pytest.mark.skipif(shutil.which("zstd") is None, reason="zstd not installed")
def test_zstd_binary_output() -> None:
    packed = subprocess.run(
        ["zstd", "-c", "-3"], input=DATA, capture_output=True, check=True
    ).stdout
    assert _read_all(packed) == ("zstd", DATA)


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz", "zstd"])
def test_truncation_is_an_error(kind: str) -> None:
    packed = CASES[kind](DATA)
    for cut in (len(packed) // 2, len(packed) - 1):
        with pytest.raises(InvalidParameter, match=f"{kind}|data"):
            _read_all(packed[:cut])


def test_zstd_garbage_is_an_error() -> None:
    packed = zstandard.ZstdCompressor().compress(DATA)
    with pytest.raises(InvalidParameter, match="zstd"):
        _read_all(packed + b"\x00\x01\x02\x03garbage")


def test_zstd_frames_tracker() -> None:
    frames = ZstdFrames()
    packed = zstandard.ZstdCompressor(write_checksum=True).compress(DATA) + _skippable(b"x")
    for i in range(0, len(packed), 7):  # byte-at-a-time-ish feeding keeps state
        frames.feed(packed[i : i + 7])
        assert frames.complete == (i + 7 >= len(packed))
    assert frames.frames == 1


def test_highly_compressible_reads_stay_bounded() -> None:
    bomb = zstandard.ZstdCompressor(level=19).compress(bytes(256 << 20))
    assert len(bomb) < 64 << 10
    _, r = decompressed(io.BytesIO(bomb))
    assert len(r.read(1 << 20)) <= 1 << 20
