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
from dockyard.store.content import DigestMismatch, FileContentStore
from dockyard.store.paths import StorePaths


def _store(tmp_path: Path) -> FileContentStore:
    return FileContentStore(StorePaths.under(tmp_path))


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


_HOLDER = """
import sys, time
from pathlib import Path
from dockyard.store.content import FileContentStore
from dockyard.store.paths import StorePaths
cs = FileContentStore(StorePaths.under(Path(sys.argv[1])))
ing = cs.partial("blob")
ing.write(b"abc")
print("locked", flush=True)
time.sleep(0.5)
ing.discard() if sys.argv[2] == "discard" else ing.close()
"""


@pytest.mark.parametrize("end", ["keep", "discard"])
def test_partial_ingest_is_locked_across_processes(tmp_path: Path, end: str) -> None:
    """Another process holding a partial ingest makes `partial` wait; then the
    waiter resumes what was kept, or starts afresh when the holder removed it."""
    import sys
    import time

    cs = _store(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path), end], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        t0 = time.monotonic()
        ing = cs.partial("blob")
        waited = time.monotonic() - t0
    finally:
        holder.wait(10)
    assert holder.returncode == 0 and waited > 0.2
    try:
        assert ing.size == (3 if end == "keep" else 0)
        ing.write(b"defg" if end == "keep" else b"abcdefg")
        blob = ing.commit(cs, "sha256:" + hashlib.sha256(b"abcdefg").hexdigest(), 7)
    finally:
        ing.close()
    assert cs.read(blob.digest) == b"abcdefg" and os.listdir(cs.paths.ingest) == []
    FileContentStore(cs.paths)  # a restart keeps partial ingests, sweeps the rest
    kept = cs.partial("x")
    kept.write(b"1")
    kept.close()
    cs.writer().write(b"2")
    FileContentStore(cs.paths)
    assert os.listdir(cs.paths.ingest) == ["partial-x"]


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
