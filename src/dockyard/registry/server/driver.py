"""The registry's storage driver interface (distribution's storagedriver idea,
small) and its filesystem implementation.

Paths are driver-relative, `/`-separated, always absolute inside the driver
(`/docker/registry/v2/...` in distribution; here `/blobs/...`, `/repositories/...`).
`put_content` and `move` are atomic: a crash leaves either the old or the new
file, never a torn one (write to a temp file in the same directory, fsync,
rename). Everything above this module speaks only this interface, so another
backend (S3, in-memory for tests) replaces it without touching the handlers.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from typing import BinaryIO, Protocol


class PathNotFound(Exception):
    pass


class StorageDriver(Protocol):
    def get_content(self, path: str) -> bytes: ...
    def put_content(self, path: str, data: bytes) -> None: ...
    def reader(self, path: str, offset: int = 0) -> BinaryIO: ...
    def appender(self, path: str) -> BinaryIO: ...
    def size(self, path: str) -> int | None: ...
    def list(self, path: str) -> list[str]: ...
    def move(self, src: str, dst: str) -> None: ...
    def delete(self, path: str) -> None: ...
    def walk_files(self, path: str) -> Iterator[str]: ...
    def local_path(self, path: str) -> str | None: ...


class FilesystemDriver:
    """Files under one root directory. `local_path` lets the HTTP layer use
    sendfile for blob bodies."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)

    def _p(self, path: str) -> str:
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise ValueError(f"invalid storage path {path!r}")
        return os.path.join(self.root, *parts)

    def get_content(self, path: str) -> bytes:
        try:
            with open(self._p(path), "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise PathNotFound(path) from None

    def put_content(self, path: str, data: bytes) -> None:
        target = self._p(path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        # a temp name of its own (not fsutil's `.tmp`): two uploads finishing the same
        # blob link in threads would otherwise rename each other's file away
        tmp = f"{target}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, target)

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        try:
            f = open(self._p(path), "rb")  # noqa: SIM115
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise PathNotFound(path) from None
        if offset:
            f.seek(offset)
        return f

    def appender(self, path: str) -> BinaryIO:
        target = self._p(path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        return open(target, "ab")  # noqa: SIM115

    def size(self, path: str) -> int | None:
        try:
            st = os.stat(self._p(path))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st.st_size

    def list(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self._p(path)))
        except (FileNotFoundError, NotADirectoryError):
            raise PathNotFound(path) from None

    def move(self, src: str, dst: str) -> None:
        s, d = self._p(src), self._p(dst)
        with open(s, "rb+") as f:
            os.fsync(f.fileno())
        os.makedirs(os.path.dirname(d), exist_ok=True)
        try:
            os.rename(s, d)
        except FileNotFoundError:
            raise PathNotFound(src) from None
        dfd = os.open(os.path.dirname(d), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def delete(self, path: str) -> None:
        p = self._p(path)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        elif os.path.lexists(p):
            os.unlink(p)
        else:
            raise PathNotFound(path)

    def walk_files(self, path: str) -> Iterator[str]:
        base = self._p(path)
        for dirpath, _dirs, files in os.walk(base):
            rel = os.path.relpath(dirpath, self.root)
            for f in files:
                yield "/" + "/".join(p for p in (rel, f) if p and p != ".")

    def local_path(self, path: str) -> str | None:
        return self._p(path)


class InMemoryDriver:
    """Everything in a dict: for tests, and the proof that nothing above this
    module assumes files (blob bodies are streamed when `local_path` is None)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    @staticmethod
    def _norm(path: str) -> str:
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise ValueError(f"invalid storage path {path!r}")
        return "/" + "/".join(parts)

    def get_content(self, path: str) -> bytes:
        try:
            return self.files[self._norm(path)]
        except KeyError:
            raise PathNotFound(path) from None

    def put_content(self, path: str, data: bytes) -> None:
        self.files[self._norm(path)] = bytes(data)

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        import io

        f = io.BytesIO(self.get_content(path))
        f.seek(offset)
        return f

    def appender(self, path: str) -> BinaryIO:
        import io

        driver, key = self, self._norm(path)

        class _Appender(io.BytesIO):
            def close(self) -> None:
                driver.files[key] = driver.files.get(key, b"") + self.getvalue()
                super().close()

        return _Appender()

    def size(self, path: str) -> int | None:
        data = self.files.get(self._norm(path))
        return None if data is None else len(data)

    def _children(self, path: str) -> set[str]:
        prefix = self._norm(path).rstrip("/") + "/"
        return {k[len(prefix) :].split("/", 1)[0] for k in self.files if k.startswith(prefix)}

    def list(self, path: str) -> list[str]:
        names = self._children(path)
        if not names:
            raise PathNotFound(path)
        return sorted(names)

    def move(self, src: str, dst: str) -> None:
        try:
            self.files[self._norm(dst)] = self.files.pop(self._norm(src))
        except KeyError:
            raise PathNotFound(src) from None

    def delete(self, path: str) -> None:
        key = self._norm(path)
        doomed = [k for k in self.files if k == key or k.startswith(key.rstrip("/") + "/")]
        if not doomed:
            raise PathNotFound(path)
        for k in doomed:
            del self.files[k]

    def walk_files(self, path: str) -> Iterator[str]:
        prefix = self._norm(path).rstrip("/") + "/"
        yield from sorted(k for k in self.files if k.startswith(prefix))

    def local_path(self, path: str) -> str | None:
        return None
