"""The build context: the request body (a tar, plain or compressed), kept in
memory as received or spooled to one file when large, and indexed
(`TarContext`; the body itself is `ctxbody`'s); `.dockerignore` applied to the
index; content checksums (`ctxsum`) taken as the body arrives or from the
index. Only what a COPY/ADD step that misses the cache copies is unpacked
(`ctxwrite`): a rebuild with nothing changed writes nothing.

The index answers the same `FileView` reads an unpacked directory does, so
globbing and checksums run one code path and give one key either way
(`dockyard build`'s kept contexts are directories, the docker CLI's arrive
as a tar).

Safety, checked once here: member names are cleaned lexically and rejected
when they leave the root (`..`), or lie below an entry that is not a
directory; a hard link must name an earlier regular file of the same tar
(it becomes a copy); devices, fifos and sparse files are not taken.
Unpacking opens every component with O_NOFOLLOW from a directory fd, so
neither the tar nor what an earlier build left in the directory leads a
write outside it.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import posixpath
import stat
import tarfile
import threading

from dockyard.builder import ctxwrite
from dockyard.builder.copy import resolve_in_root
from dockyard.builder.ctxbody import Pieces, PiecesFile, decompress_in_place, is_tar_header
from dockyard.builder.fsview import HOST, FileView
from dockyard.dockerfile.dockerignore import Matcher, read_patterns
from dockyard.rootpath import open_in_root
from dockyard.store.compression import NONE, detect

_CHUNK = 1 << 20


class BuildContext:
    """What the builder reads a context through. Files are under `root` once
    `unpack()` has run; before that, `fs` answers for them. `known` maps host
    paths to their bytes' sha256 where already known."""

    def __init__(
        self, root: str, tar: TarContext | None = None, known: dict[str, str] | None = None
    ) -> None:
        self.root = root
        self.tar = tar
        self.fs: FileView = tar if tar is not None else HOST
        self.known = known or {}

    def use(self, tar: TarContext) -> None:
        self.tar = self.fs = tar

    def read(self, name: str) -> bytes:
        """A file of the context, resolved inside it (the Dockerfile)."""
        if self.tar is not None:
            return self.tar.read(name)
        with open_in_root(self.root, name) as f:
            return f.read()

    def unpack(self, paths: list[str] | None = None) -> None:
        if self.tar is not None:
            self.tar.unpack(paths)

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()


def member_path(name: str) -> str:
    """The context-relative path of a tar member name ("" for the root);
    ValueError when it leaves the context."""
    clean = posixpath.normpath(name.lstrip("/"))
    if clean == ".." or clean.startswith("../"):
        raise ValueError("path leaves the context")
    return "" if clean == "." else clean


class _Entry:
    __slots__ = ("st_mode", "st_size", "offset", "link", "mtime_ns", "digest")

    def __init__(self, mode: int, size: int = 0, offset: int = 0, link: str = "",
                 mtime_ns: int | None = None) -> None:  # fmt: skip
        self.st_mode = mode
        self.st_size = size
        self.offset = offset
        self.link = link
        self.mtime_ns = mtime_ns
        self.digest: str | None = None


class TarContext:
    """A context tar (in memory or spooled to `spool`) indexed by path, seen as
    if it were unpacked at `root` (a `FileView`); `unpack` makes it so."""

    def __init__(self, root: str, spool: str, kept: Pieces | None = None) -> None:
        self.root = os.path.normpath(root)
        self.spool = spool
        self._prefix = self.root + "/"
        self._entries: dict[str, _Entry] = {"": _Entry(stat.S_IFDIR | 0o755)}
        self._children: dict[str, dict[str, None]] = {"": {}}
        self._lock = threading.Lock()  # unpacking
        self._map_lock = threading.Lock()
        self._unpacked = False
        self._written: set[str] = set()
        self._map: mmap.mmap | None = None
        self._kept = kept  # the body in memory, or else in the spool file
        self._fd = -1 if kept else os.open(spool, os.O_RDONLY | os.O_CLOEXEC)
        self._size = kept.size if kept else os.fstat(self._fd).st_size

    @classmethod
    def open(
        cls,
        root: str,
        spool: str,
        hashed: dict[tuple[int, int], str] | None = None,
        kept: list[bytes] | None = None,
    ) -> TarContext:
        """Index the request body spooled at `spool`, or `kept` in memory as it
        arrived (decompressed first when compressed, in the spool); ValueError
        when it is not a valid context. A body that is not a tar is the
        Dockerfile itself (`docker build - < Dockerfile`, dockerd's rule).
        `hashed` is a `TarStreamHasher`'s digests of the body as received
        (unused if it was compressed)."""
        pieces = Pieces(kept) if kept is not None else None
        if pieces is not None and detect(pieces.pread(0, 6)) != NONE:
            with open(spool, "wb") as f:
                f.writelines(pieces.pieces)
            pieces = None
        if pieces is not None:
            is_tar, was_plain = is_tar_header(pieces.pread(0, 512)), True
            data_size = pieces.size
        else:
            is_tar, was_plain = decompress_in_place(spool)
            data_size = os.path.getsize(spool)
        known = hashed if was_plain and hashed else {}
        if is_tar:  # the docker CLI's tar with a Dockerfile from outside ends unpadded, unclosed
            pad = b"\0" * (-data_size % 512 + 1024)
            if pieces is not None:
                pieces.append(pad)
            else:
                with open(spool, "ab") as f:
                    f.write(pad)
        ctx = cls(root, spool, pieces)
        ctx._size = data_size
        try:
            if is_tar:
                ctx._index(known)
            else:
                ctx._add("Dockerfile", _Entry(stat.S_IFREG | 0o644, ctx._size))
        except BaseException:
            ctx.close()
            raise
        return ctx

    def close(self) -> None:
        self._kept = None
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # -- the index ------------------------------------------------------------------

    def _index(self, known: dict[tuple[int, int], str]) -> None:
        if self._size == 0:
            return
        try:
            src = PiecesFile(self._kept) if self._kept else open(self.spool, "rb")  # noqa: SIM115
            with src, tarfile.open(fileobj=src, mode="r:") as tf:  # type: ignore[call-overload]
                while (m := tf.next()) is not None:
                    tf.members.clear()  # the index is what is kept, not a TarInfo per file
                    try:
                        self._take(m, known)
                    except ValueError as exc:
                        raise ValueError(f"invalid context entry {m.name!r}: {exc}") from None
        except tarfile.TarError as exc:
            raise ValueError(f"invalid tar: {exc}") from None

    def _take(self, m: tarfile.TarInfo, known: dict[tuple[int, int], str]) -> None:
        rel = member_path(m.name)
        mtime_ns = int(m.mtime * 1_000_000_000)
        mode = m.mode & 0o755  # no set-id, sticky or group/other write bits (tar_filter's rule)
        if m.isdir():
            self._add(rel, _Entry(stat.S_IFDIR | mode, mtime_ns=mtime_ns))
            return
        if not rel:
            raise ValueError("the context root must be a directory")
        if m.isreg():
            if m.sparse is not None:
                raise ValueError("sparse files are not supported")
            if m.offset_data + m.size > self._size:
                raise ValueError("unexpected end of data")
            e = _Entry(stat.S_IFREG | mode, m.size, m.offset_data, "", mtime_ns)
            e.digest = known.get((m.offset_data, m.size))  # the bytes there, whatever found them
            self._add(rel, e)
        elif m.issym():
            self._add(rel, _Entry(stat.S_IFLNK | 0o777, 0, 0, m.linkname, mtime_ns))
        elif m.islnk():
            target = self._entries.get(member_path(m.linkname))
            if target is None or not stat.S_ISREG(target.st_mode):
                raise ValueError(f"hard link to {m.linkname!r}, not a file of the context")
            e = _Entry(stat.S_IFREG | mode, target.st_size, target.offset, "", mtime_ns)
            e.digest = target.digest
            self._add(rel, e)
        # devices and fifos: not part of a build context

    def _dir(self, rel: str) -> None:
        """Make sure `rel` is a directory of the index (implicitly 0755)."""
        e = self._entries.get(rel)
        if e is not None:
            if not stat.S_ISDIR(e.st_mode):
                raise ValueError(f"{rel!r} is not a directory")
            return
        parent, _, name = rel.rpartition("/")
        self._dir(parent)
        self._entries[rel] = _Entry(stat.S_IFDIR | 0o755)
        self._children[rel] = {}
        self._children[parent][name] = None

    def _add(self, rel: str, e: _Entry) -> None:
        """A later entry for a path replaces the earlier one (a directory keeps its contents)."""
        parent, _, name = rel.rpartition("/")
        if rel:
            self._dir(parent)
        old = self._entries.get(rel)
        if old is not None and stat.S_ISDIR(old.st_mode):
            if stat.S_ISDIR(e.st_mode):
                old.st_mode, old.mtime_ns = e.st_mode, e.mtime_ns
                return
            self._drop(rel)
        self._entries[rel] = e
        if stat.S_ISDIR(e.st_mode):
            self._children[rel] = {}
        if rel:
            self._children[parent][name] = None

    def _drop(self, rel: str) -> None:
        e = self._entries.pop(rel, None)
        if e is None:
            return
        if stat.S_ISDIR(e.st_mode):
            for child in list(self._children.pop(rel)):
                self._drop(f"{rel}/{child}" if rel else child)
        parent, _, name = rel.rpartition("/")
        self._children[parent].pop(name, None)

    def remove(self, name: str) -> None:
        """Take a path (and what is under it) out of the context."""
        self._drop(member_path(name))

    def files(self) -> list[str]:
        """Host paths of the regular files."""
        return [self._prefix + r for r, e in self._entries.items() if stat.S_ISREG(e.st_mode)]

    # -- FileView -------------------------------------------------------------------

    def _entry(self, path: str) -> tuple[str, _Entry]:
        path = posixpath.normpath(path)
        if path == self.root:
            rel = ""
        elif path.startswith(self._prefix):
            rel = path[len(self._prefix) :]
        else:
            raise FileNotFoundError(path)
        e = self._entries.get(rel)
        if e is None:
            raise FileNotFoundError(path)
        return rel, e

    def lstat(self, path: str) -> _Entry:
        return self._entry(path)[1]

    def listdir(self, path: str) -> list[str]:
        rel, e = self._entry(path)
        if not stat.S_ISDIR(e.st_mode):
            raise NotADirectoryError(path)
        return list(self._children[rel])

    def readlink(self, path: str) -> str:
        e = self._entry(path)[1]
        if not stat.S_ISLNK(e.st_mode):
            raise OSError(f"not a symlink: {path}")
        return e.link

    def sha256(self, path: str) -> str:
        e = self._entry(path)[1]
        if e.digest is None:
            if e.st_size == 0:
                e.digest = hashlib.sha256().hexdigest()
            elif self._kept:
                h = hashlib.sha256()
                for v in self._kept.views(e.offset, e.st_size):
                    h.update(v)
                e.digest = h.hexdigest()
            else:
                with (
                    memoryview(self._mapped()) as whole,
                    whole[e.offset : e.offset + e.st_size] as v,
                ):
                    e.digest = hashlib.sha256(v).hexdigest()  # no copy; views released at once
        return e.digest

    def _mapped(self) -> mmap.mmap:
        with self._map_lock:
            if self._map is None:
                self._map = mmap.mmap(self._fd, 0, prot=mmap.PROT_READ)
            return self._map

    def read(self, name: str) -> bytes:
        """A regular file's bytes, `name` resolved inside the context."""
        path = resolve_in_root(self.root, name, fs=self)
        e = self._entry(path)[1]
        if stat.S_ISDIR(e.st_mode):
            raise IsADirectoryError(name)
        if not stat.S_ISREG(e.st_mode):
            return b""
        return (
            self._kept.pread(e.offset, e.st_size)
            if self._kept
            else os.pread(self._fd, e.st_size, e.offset)
        )

    # -- .dockerignore --------------------------------------------------------------

    def apply_dockerignore(self) -> None:
        """Drop what `.dockerignore` excludes (call after reading the Dockerfile,
        which stays readable to the daemon even when ignored, as in Docker)."""
        try:
            text = self.read(".dockerignore").decode("utf-8", "replace")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return
        patterns = read_patterns(text)
        if not patterns:
            return
        m = Matcher(patterns)

        def walk(rel: str) -> None:
            for name in sorted(self._children[rel]):
                r = f"{rel}/{name}" if rel else name
                e = self._entries[r]
                is_dir = stat.S_ISDIR(e.st_mode)
                if m.excluded(r):
                    if is_dir and m.may_reinclude_under(r):
                        walk(r)
                        # as docker's CLI sends it: implied by what it keeps, or gone
                        if self._children[r]:
                            e.st_mode, e.mtime_ns = stat.S_IFDIR | 0o755, None
                        else:
                            self._drop(r)
                    else:
                        self._drop(r)
                elif is_dir:
                    walk(r)

        walk("")

    # -- unpacking ------------------------------------------------------------------

    def unpack(self, paths: list[str] | None = None) -> None:
        """Write the tree, or only what is at and under the host `paths` (what a
        step that missed the cache copies), into `root`. Entries replace what
        is there (a kept context's earlier files); none is written twice;
        nothing else is touched."""
        with self._lock:
            if self._unpacked:
                return
            wanted = None if paths is None else {self._entry(p)[0] for p in paths}
            if wanted is not None and "" in wanted:
                wanted = None
            todo = [(rel, e) for rel, e in self._entries.items() if rel not in self._written
                    and (wanted is None or ctxwrite.under(rel, wanted))]  # fmt: skip
            fds: dict[str, int] = {"": os.open(self.root, ctxwrite.DIR_FLAGS)}
            try:
                ctxwrite.write_entries(fds, todo, self._copy_data)
            finally:
                for fd in fds.values():
                    os.close(fd)
            self._written.update(rel for rel, _ in todo)
            self._unpacked = wanted is None

    def _copy_data(self, e: _Entry, fd: int) -> None:
        if self._kept:
            for v in self._kept.views(e.offset, e.st_size):
                while v:
                    v = v[os.write(fd, v) :]
            return
        off, left = e.offset, e.st_size
        while left:
            try:
                n = os.copy_file_range(self._fd, fd, left, off)
            except OSError:  # a kernel or filesystem without it: plain reads
                n = os.write(fd, os.pread(self._fd, min(left, _CHUNK), off))
            if n <= 0:
                raise OSError("unexpected end of the context data")
            off += n
            left -= n
