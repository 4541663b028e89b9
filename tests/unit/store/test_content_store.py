from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import subprocess
from pathlib import Path

import pytest

from dockyard.api.errors import InvalidParameter, NotFound
from dockyard.store.compression import decompressed
from dockyard.store.content import ContentStore, DigestMismatch
from dockyard.store.paths import StorePaths


def _store(tmp_path: Path) -> ContentStore:
    return ContentStore(StorePaths.under(tmp_path))


def test_write_commit_read(tmp_path: Path) -> None:
    cs = _store(tmp_path)
    data = b"hello" * 1000
    dg = "sha256:" + hashlib.sha256(data).hexdigest()
    with cs.writer() as w:
        w.write(data[:10])
        w.write(data[10:])
        info = w.commit(dg, len(data))
    assert info.digest == dg and cs.info(dg).size == len(data)
    assert cs.read(dg) == data
    assert [b.digest for b in cs.walk()] == [dg]
    assert os.listdir(cs.paths.ingest) == []
    cs.delete(dg)
    with pytest.raises(NotFound):
        cs.info(dg)


def test_commit_verifies(tmp_path: Path) -> None:
    cs = _store(tmp_path)
    with cs.writer() as w:
        w.write(b"abc")
        with pytest.raises(DigestMismatch):
            w.commit("sha256:" + "0" * 64)
    with cs.writer() as w:
        w.write(b"abc")
        with pytest.raises(DigestMismatch):
            w.commit(size=4)
    assert list(cs.walk()) == [] and os.listdir(cs.paths.ingest) == []


def test_unfinished_ingests_are_dropped(tmp_path: Path) -> None:
    cs = _store(tmp_path)
    w = cs.writer()
    w.write(b"partial")
    assert os.listdir(cs.paths.ingest)
    w.abort()
    assert os.listdir(cs.paths.ingest) == []
    with pytest.raises(InvalidParameter):
        cs.path("sha256:nothex")


@pytest.mark.parametrize("kind", ["none", "gzip", "bzip2", "xz", "zstd"])
def test_decompress(kind: str) -> None:
    data = os.urandom(200_000) + b"z" * 3_000_000
    comp = {
        "none": lambda d: d,
        "gzip": gzip.compress,
        "bzip2": bz2.compress,
        "xz": lzma.compress,
        "zstd": lambda d: (
            subprocess.run(["zstd", "-c"], input=d, capture_output=True, check=True).stdout
        ),
    }[kind](data)
    got_kind, r = decompressed(io.BytesIO(comp))
    assert got_kind == kind
    out = bytearray()
    while chunk := r.read(65536):
        out += chunk
    assert bytes(out) == data


def test_truncated_gzip_is_an_error() -> None:
    comp = gzip.compress(os.urandom(100_000))
    _, r = decompressed(io.BytesIO(comp[: len(comp) // 2]))
    with pytest.raises(InvalidParameter):
        while r.read(65536):
            pass
