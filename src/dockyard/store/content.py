"""The content store: blobs by sha256 digest (containerd's content.Store, small).

A blob becomes visible at one place only, `Writer.commit`, which checks the
size and digest, fsyncs and renames the ingest file into `blobs/sha256/`.
Readers never see partial data.

A `PartialIngest` is a named ingest that outlives the process (a download cut
short by a crash resumes from where it stopped): `ingest/partial-<name>`, held
under an exclusive `flock` while open, so two writers (two pulls, even in two
processes) never write it at once; the second waits and then finds the blob
done. Unnamed writers' files are swept at start-up, partial ones after a week.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from dockyard.api.errors import InvalidParameter, NotFound
from dockyard.store.paths import StorePaths


@dataclass(frozen=True, slots=True)
class BlobInfo:
    digest: str
    size: int


class DigestMismatch(InvalidParameter):
    pass


class Writer:
    """An ingest: write, then `commit` (verify + fsync + rename) or `abort`.

    With `verify=False` the writer does not hash; `commit` must then be given
    the digest, computed by whoever fed the data (e.g. the layer applier,
    which hashes the same bytes anyway)."""

    def __init__(self, store: FileContentStore, ref: str, verify: bool = True) -> None:
        self._store = store
        self.path = store.paths.ingest_file(ref)
        self._f: BinaryIO | None = open(self.path, "xb")  # noqa: SIM115
        self._hash = hashlib.sha256() if verify else None
        self.size = 0

    def write(self, data: bytes) -> int:
        assert self._f is not None
        self._f.write(data)
        if self._hash is not None:
            self._hash.update(data)
        self.size += len(data)
        return len(data)

    def current_digest(self) -> str | None:
        """The digest of what was written so far (None for an unverified writer)."""
        return "sha256:" + self._hash.hexdigest() if self._hash is not None else None

    def commit(self, digest: str | None = None, size: int | None = None) -> BlobInfo:
        assert self._f is not None
        if self._hash is not None:
            actual = "sha256:" + self._hash.hexdigest()
            if digest is not None and digest != actual:
                self.abort()
                raise DigestMismatch(f"digest mismatch: expected {digest}, got {actual}")
            digest = actual
        if digest is None:
            raise ValueError("commit of an unverified writer needs the digest")
        if size is not None and size != self.size:
            self.abort()
            raise DigestMismatch(f"size mismatch for {digest}: expected {size}, got {self.size}")
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        self._f = None
        target = self._store.paths.blob(digest)
        if target.exists():
            os.unlink(self.path)
        else:
            os.rename(self.path, target)
            self._store.sync_dir()
        return BlobInfo(digest, self.size)

    def abort(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


PARTIAL_PREFIX = "partial-"
PARTIAL_MAX_AGE = 7 * 86400.0


class PartialIngest:
    """An open, locked `ingest/partial-<name>`: appended to, resumed at `size`
    (see the module docstring). `close` keeps it for a later resume, `discard`
    removes it (done, or found bad)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks while another writer has it
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder finished and removed it: take a fresh one
        self.fd: int | None = fd

    @property
    def size(self) -> int:
        assert self.fd is not None
        return os.fstat(self.fd).st_size

    def write(self, data: bytes | memoryview) -> None:
        assert self.fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def truncate(self) -> None:
        assert self.fd is not None
        os.ftruncate(self.fd, 0)

    def commit(self, store: FileContentStore, digest: str, size: int) -> BlobInfo:
        """Make the ingest the blob `digest`: the caller hashed what it wrote (as
        `Writer(verify=False)`); the size is checked, then fsync and rename."""
        assert self.fd is not None
        if self.size != size:
            raise DigestMismatch(f"size mismatch for {digest}: expected {size}, got {self.size}")
        os.fsync(self.fd)
        target = store.paths.blob(digest)
        if target.exists():
            os.unlink(self.path)
        else:
            os.rename(self.path, target)
            store.sync_dir()
        self.close()
        return BlobInfo(digest, size)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # releases the lock
            self.fd = None

    def discard(self) -> None:
        if self.fd is not None:
            try:
                os.unlink(self.path)  # while still locked: a waiter sees the inode change
            except FileNotFoundError:
                pass
        self.close()


class ContentStore(Protocol):
    """What the image service, the registry client, the builder and gc ask of a
    content store (structural; FileContentStore implements it, and
    tests/conformance/test_content_store.py holds the contract)."""

    def writer(self, verify: bool = True) -> Writer: ...
    def partial(self, name: str) -> PartialIngest: ...
    def add(self, data: bytes, digest: str | None = None) -> BlobInfo: ...
    def info_or_none(self, digest: str) -> BlobInfo | None: ...
    def info(self, digest: str) -> BlobInfo: ...
    def path(self, digest: str) -> Path: ...
    def open(self, digest: str) -> BinaryIO: ...
    def read(self, digest: str) -> bytes: ...
    def delete(self, digest: str) -> None: ...
    def walk(self) -> Iterator[BlobInfo]: ...
    def sync_dir(self) -> None: ...


class FileContentStore:
    """Blobs as files under `blobs/sha256/`, written through `ingest/`."""

    def __init__(self, paths: StorePaths) -> None:
        self.paths = paths
        for d in (paths.blobs, paths.ingest):
            d.mkdir(parents=True, exist_ok=True)
        old = time.time() - PARTIAL_MAX_AGE
        for entry in os.scandir(paths.ingest):  # ingests of a previous run are garbage
            if not entry.name.startswith(PARTIAL_PREFIX) or entry.stat().st_mtime < old:
                os.unlink(entry.path)

    def writer(self, verify: bool = True) -> Writer:
        return Writer(self, uuid.uuid4().hex, verify)

    def partial(self, name: str) -> PartialIngest:
        """The named resumable ingest `name`, opened and locked (blocks while
        another writer holds it: call from a thread)."""
        return PartialIngest(self.paths.ingest_file(PARTIAL_PREFIX + name))

    def add(self, data: bytes, digest: str | None = None) -> BlobInfo:
        info = self.info_or_none(digest) if digest else None
        if info is not None:
            return info
        with self.writer() as w:
            w.write(data)
            return w.commit(digest, len(data))

    def info_or_none(self, digest: str) -> BlobInfo | None:
        try:
            st = os.stat(self.paths.blob(digest))
        except FileNotFoundError:
            return None
        return BlobInfo(digest, st.st_size)

    def info(self, digest: str) -> BlobInfo:
        info = self.info_or_none(digest)
        if info is None:
            raise NotFound(f"content {digest}: not found")
        return info

    def path(self, digest: str) -> Path:
        return self.paths.blob(digest)

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.paths.blob(digest), "rb")  # noqa: SIM115
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None

    def read(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self.paths.blob(digest))
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None

    def walk(self) -> Iterator[BlobInfo]:
        for entry in os.scandir(self.paths.blobs):
            yield BlobInfo("sha256:" + entry.name, entry.stat().st_size)

    def sync_dir(self) -> None:
        fd = os.open(self.paths.blobs, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
