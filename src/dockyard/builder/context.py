"""The build context: the request body (a tar, plain or compressed) unpacked
into a private directory, `.dockerignore` applied, and content checksums of
sources for the cache (path, type, mode, size, link target and bytes; not
mtimes or owners, so a fresh checkout of the same files hits the cache).

Extraction uses tarfile's `tar_filter` (Python's vetted guard against
absolute names, `..` and links leaving the directory) rather than a
hand-written check; modes are kept as sent.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile
from typing import BinaryIO

from dockyard.builder.dockerignore import Matcher, read_patterns
from dockyard.store.compression import decompressed


def extract_context(body: BinaryIO, dest: str) -> dict[str, str]:
    """Unpack a context tar stream (any compression) into `dest`; returns the
    sha256 of each regular file's bytes by host path, hashed as it is written
    (so COPY checksums need not read the context again)."""
    _, raw = decompressed(body)
    digests: dict[str, str] = {}
    head = _read_full(raw, 512)
    if not _is_tar_header(head):
        # `docker build - < Dockerfile`: the body is the Dockerfile itself (dockerd's rule)
        path = os.path.join(dest, "Dockerfile")
        h = hashlib.sha256()
        with open(path, "wb") as f:
            chunk = head
            while chunk:
                h.update(chunk)
                f.write(chunk)
                chunk = raw.read(1 << 20)
        os.chmod(path, 0o644)
        os.chmod(dest, 0o755)
        return {path: h.hexdigest()}
    raw = _Prefixed(head, raw)  # type: ignore[assignment]
    # 1 MiB records: tarfile's default 10 KiB reads cost more than hashing the data
    with tarfile.open(fileobj=raw, mode="r|", bufsize=1 << 20) as tf:  # type: ignore[call-overload]
        for member in tf:
            try:
                checked = tarfile.tar_filter(member, dest)
                if checked.isreg():
                    path, digest = _write_member(tf, checked, dest)
                    digests[path] = digest
                else:
                    tf.extract(checked, dest, set_attrs=True, filter="fully_trusted")
            except (tarfile.FilterError, OSError) as exc:
                raise ValueError(f"invalid context entry {member.name!r}: {exc}") from None
    os.chmod(dest, 0o755)
    return digests


def _read_full(f: BinaryIO, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = f.read(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def _is_tar_header(head: bytes) -> bool:
    if len(head) < 512:
        return head == b"" or not head.strip(b"\0")
    if head[257:262] == b"ustar" or not head.strip(b"\0"):
        return True
    try:
        tarfile.TarInfo.frombuf(head, "utf-8", "surrogateescape")
        return True
    except tarfile.HeaderError:
        return False


class _Prefixed:
    """`head` then the rest of `rest`, as one reader."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head = head
        self.rest = rest

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n is None or n < 0:
                out, self.head = self.head + self.rest.read(), b""
                return out
            out, self.head = self.head[:n], self.head[n:]
            return out
        return self.rest.read(n)


def _write_member(tf: tarfile.TarFile, m: tarfile.TarInfo, dest: str) -> tuple[str, str]:
    path = os.path.normpath(os.path.join(dest, m.name))
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755, exist_ok=True)
    if os.path.lexists(path) and not os.path.isdir(path):
        os.unlink(path)
    src = tf.extractfile(m)
    h = hashlib.sha256()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        remaining = m.size
        while remaining > 0:
            chunk = src.read(min(1 << 20, remaining))  # type: ignore[union-attr]
            if not chunk:
                raise OSError("unexpected end of data")
            h.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
            remaining -= len(chunk)
        os.fchmod(fd, m.mode & 0o7777 if m.mode is not None else 0o644)
    finally:
        os.close(fd)
    os.utime(path, (m.mtime, m.mtime))
    return path, h.hexdigest()


def apply_dockerignore(root: str, keep: tuple[str, ...] = ()) -> None:
    """Delete what `.dockerignore` excludes (the files in `keep` are removed
    from the COPY-able tree only if ignored; callers read them first)."""
    try:
        with open(os.path.join(root, ".dockerignore")) as f:
            patterns = read_patterns(f.read())
    except FileNotFoundError:
        return
    if not patterns:
        return
    m = Matcher(patterns)

    def walk(rel: str) -> None:
        d = os.path.join(root, rel) if rel else root
        for name in sorted(os.listdir(d)):
            r = f"{rel}/{name}" if rel else name
            p = os.path.join(root, r)
            is_dir = stat.S_ISDIR(os.lstat(p).st_mode)
            if m.excluded(r):
                if is_dir and m.may_reinclude_under(r):
                    walk(r)
                    continue
                if is_dir:
                    shutil.rmtree(p)
                else:
                    os.unlink(p)
            elif is_dir:
                walk(r)

    walk("")


def checksum(paths: list[tuple[str, str]], known: dict[str, str] | None = None) -> str:
    """A content hash of (absolute path, name in the hash) pairs, walking dirs;
    `known` maps host paths to their bytes' sha256 (from `extract_context`)."""
    known = known or {}
    h = hashlib.sha256()

    def add(path: str, name: str) -> None:
        st = os.lstat(path)
        mode = st.st_mode
        h.update(f"{name}\0{stat.S_IFMT(mode)}\0{stat.S_IMODE(mode):o}\0".encode())
        if stat.S_ISREG(mode):
            h.update(f"{st.st_size}\0".encode())
            digest = known.get(path)
            if digest is not None:
                h.update(digest.encode())
                return
            fh = hashlib.sha256()
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    fh.update(chunk)
            h.update(fh.hexdigest().encode())
        elif stat.S_ISLNK(mode):
            h.update(os.readlink(path).encode() + b"\0")
        elif stat.S_ISDIR(mode):
            for child in sorted(os.listdir(path)):
                add(os.path.join(path, child), f"{name}/{child}")

    for path, name in paths:
        add(path, name)
    return h.hexdigest()
