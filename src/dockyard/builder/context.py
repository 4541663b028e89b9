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


def extract_context(body: BinaryIO, dest: str) -> None:
    """Unpack a context tar stream (any compression) into `dest`."""
    _, raw = decompressed(body)
    with tarfile.open(fileobj=raw, mode="r|") as tf:  # type: ignore[call-overload]
        for member in tf:
            try:
                tf.extract(member, dest, set_attrs=True, filter="tar")
            except (tarfile.FilterError, OSError) as exc:
                raise ValueError(f"invalid context entry {member.name!r}: {exc}") from None
    os.chmod(dest, 0o755)


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


def checksum(paths: list[tuple[str, str]]) -> str:
    """A content hash of (absolute path, name in the hash) pairs, walking dirs."""
    h = hashlib.sha256()

    def add(path: str, name: str) -> None:
        st = os.lstat(path)
        mode = st.st_mode
        h.update(f"{name}\0{stat.S_IFMT(mode)}\0{stat.S_IMODE(mode):o}\0".encode())
        if stat.S_ISREG(mode):
            h.update(f"{st.st_size}\0".encode())
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        elif stat.S_ISLNK(mode):
            h.update(os.readlink(path).encode() + b"\0")
        elif stat.S_ISDIR(mode):
            for child in sorted(os.listdir(path)):
                add(os.path.join(path, child), f"{name}/{child}")

    for path, name in paths:
        add(path, name)
    return h.hexdigest()
