"""The one tar extractor: every tar that comes from a user (image layers from
load, import and pulls; ADD in a build; PUT /containers/{id}/archive) is
unpacked here, never by tarfile's extract*.

Nothing is done by path string. The destination is held as a directory fd;
each entry's parent is reached from it one component at a time with
O_NOFOLLOW (directory fds are cached, so an entry costs its own syscalls), and
the entry is created, changed or removed relative to its parent's fd. A name
therefore cannot lead out of the destination whatever the archive (or a
concurrent writer) puts on the way: CVE-2025-4517's symlink chains past
realpath's PATH_MAX, `..`, absolute names and hard links out all fail here.

Two modes, as Docker has them:
- LAYER (moby's UnpackLayer): a symlink is never a parent; absolute names are
  refused; Docker's whiteouts become overlayfs's (`.wh.x` -> 0/0 char device
  `x`, `.wh..wh..opq` -> `trusted.overlay.opaque=y` on the parent).
- PLAIN (moby's chrooted Untar for ADD and docker cp): names are resolved
  inside the destination as a chroot would (`dockyard.rootpath`, openat2
  RESOLVE_IN_ROOT), so `lib -> usr/lib` in a merged-/usr image is followed and
  an absolute name is relative to the destination; `.wh.` names are files.
Both refuse a hard link whose target climbs above the destination and names
with a NUL byte or longer than PATH_MAX / NAME_MAX; PLAIN also refuses, as
moby's createTarFile does, a relative symlink whose target climbs above the
destination (a layer may hold one: the builder's own layers do, as dockerd's
do, and nothing in LAYER mode follows a link). Malformed or escaping archives raise
`InvalidArchive` (400, Docker's JSON message at every entry point).

tarfile (stream mode) only parses headers (PAX, GNU long names, xattrs), with
`tarheader.FastTarInfo`; data is copied in 1 MiB reads, small files by the
`writepool` threads. See bench/images.sh for the comparison with GNU tar.
"""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import stat
import tarfile
from collections import OrderedDict
from typing import Any, BinaryIO, NamedTuple

from dockyard.api.errors import InvalidParameter, SystemError_
from dockyard.rootpath import openat_in_root
from dockyard.tarheader import FastTarInfo
from dockyard.writepool import Writers

LAYER = "layer"
PLAIN = "plain"
WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
_XATTR_PREFIX = "SCHILY.xattr."
_CHUNK = 1 << 20
# tarfile's stream reads its source in pieces of this size (10 KiB by default:
# ~100 calls through the decompressor and hasher per MiB; 64 KiB measured ~13%
# faster on large files, and a header read copies at most this much)
_TAR_BUFSIZE = 64 << 10
_PATH_MAX = 4096
_NAME_MAX = 255
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_DIR_FDS = 512  # directory fds kept open (tar order is depth first: the recent ones)
_POOL_MAX_FILE = 1 << 20  # files up to this size are written by the pool
_HOST_FAULTS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EMFILE, errno.ENFILE}


class InvalidArchive(InvalidParameter):
    """A tar that is malformed or tries to write outside its destination."""


class InvalidLayer(InvalidArchive):
    """The same, for an image layer."""


def _shown(name: str) -> str:
    return repr(name if len(name) <= 120 else name[:120] + "...")


class _Extractor:
    """Per-entry work is kept to the syscalls that change something: into an empty
    root, a name this extraction has not created cannot exist (no lstat); a file
    is created with its final permission bits when the umask allows (no chmod),
    and owned by root already when the tar says root and no setgid parent
    interferes (no lchown)."""

    def __init__(
        self,
        root: str,
        mode: str,
        owner: tuple[int, int] | None,
        scope: tuple[str, str] | None,
        no_overwrite_dir_non_dir: str | None,
    ) -> None:
        self.mode = mode
        self.no_overwrite = no_overwrite_dir_non_dir
        self.what = "layer" if mode == LAYER else "archive"
        self.error = InvalidLayer if mode == LAYER else InvalidArchive
        self.owner = owner
        self.root_fd = os.open(root, _DIR_FLAGS)
        # symlinks are resolved inside the scope (a container's rootfs), where the
        # destination is `scope_rel`; by default the destination is the scope
        self.scope_fd, self.scope_rel = self.root_fd, "."
        if scope is not None:
            self.scope_fd, self.scope_rel = os.open(scope[0], _DIR_FLAGS), scope[1]
        self.dirfds: OrderedDict[str, int] = OrderedDict()
        self.retired: list[int] = []
        self.dir_times: list[tuple[str, int]] = []
        self.size = 0
        self.as_root = os.geteuid() == 0
        self.umask = _umask()
        self.egid = os.getegid()
        # None: the root was not empty (or a symlink made two names for one file),
        # every name may exist; else the names created
        self.created: set[str] | None = None if os.listdir(self.root_fd) else set()
        self.setgid_dirs: set[str] = set()
        self.writers = Writers()
        # a symlink was followed (PLAIN): two names may lead to one file, so the
        # pool (which tracks queued files by name) is drained and no longer used
        self.aliased = False

    def fail(self, detail: str) -> InvalidArchive:
        return self.error(f"invalid {self.what}: {detail}")

    # -- names ------------------------------------------------------------------

    def clean(self, name: str, link: bool = False) -> str:
        """A member (or hard link target) name relative to the root ("." for the root)."""
        if "\0" in name:
            raise self.fail(f"name {_shown(name)} contains a NUL byte")
        if len(name.encode("utf-8", "surrogateescape")) >= _PATH_MAX:
            raise self.fail(f"name {_shown(name)} is too long")
        if name.startswith("/"):
            if self.mode == LAYER:
                raise self.fail(f"absolute path {_shown(name)} in archive")
            name = name.lstrip("/")  # Docker joins it to the destination
        rel = posixpath.normpath(name) if name else "."
        if rel == ".." or rel.startswith("../"):
            where = "the layer root" if self.mode == LAYER else "the destination"
            kind = "hard link target" if link else "path"
            raise self.fail(f"{kind} {_shown(name)} escapes {where}")
        for comp in rel.split("/"):
            if len(comp.encode("utf-8", "surrogateescape")) > _NAME_MAX:
                raise self.fail(f"name {_shown(name)} is too long (a component over 255 bytes)")
        return rel

    # -- directories ------------------------------------------------------------

    def dir_fd(self, rel: str, create: bool = True) -> int:
        """An fd of the directory `rel`, made (0755) when missing and `create`."""
        if rel == ".":
            return self.root_fd
        fd = self.dirfds.get(rel)
        if fd is not None:
            self.dirfds.move_to_end(rel)
            return fd
        parent, base = posixpath.split(rel)
        pfd = self.dir_fd(parent or ".", create)
        self.writers.wait(rel)  # a file queued under that name must exist before the check
        try:
            fd = os.open(base, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=pfd)
        except FileNotFoundError:
            if not create:
                raise self.fail(f"{_shown(rel)} does not exist") from None
            os.mkdir(base, 0o755, dir_fd=pfd)
            if self.created is not None:
                self.created.add(rel)
            fd = os.open(base, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=pfd)
        except OSError as exc:
            if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise
            fd = self._through_symlink(rel, pfd, base)
        self.dirfds[rel] = fd
        if len(self.dirfds) > _MAX_DIR_FDS:
            self.retired.append(self.dirfds.popitem(last=False)[1])
            if len(self.retired) >= 64:
                self._close_retired()
        return fd

    def _through_symlink(self, rel: str, pfd: int, base: str) -> int:
        st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
        if self.mode == LAYER or not stat.S_ISLNK(st.st_mode):
            raise self.fail(
                f"parent {_shown(rel)} is not a directory (a symlink cannot be a parent)"
                if self.mode == LAYER
                else f"parent {_shown(rel)} is not a directory"
            )
        self.created = None  # two names now lead to the same files
        self.aliased = True
        self.writers.wait_all()
        try:
            return openat_in_root(self.scope_fd, posixpath.join(self.scope_rel, rel), _DIR_FLAGS)
        except OSError as exc:
            raise self.fail(f"parent {_shown(rel)} leads to no directory: {exc.strerror}") from None

    def _close_retired(self) -> None:
        self.writers.wait_all()  # queued writes may still use them
        for fd in self.retired:
            os.close(fd)
        self.retired = []

    def forget_dirs(self) -> None:
        """After a directory or symlink is removed, cached fds may name the old tree."""
        self.retired.extend(self.dirfds.values())
        self.dirfds.clear()
        self._close_retired()

    # -- entries ----------------------------------------------------------------

    def lstat(self, rel: str, pfd: int, base: str) -> os.stat_result | None:
        """lstat of `rel`, skipped (None) when this extraction never created it."""
        if self.created is not None and rel not in self.created:
            return None
        self.writers.wait(rel)
        try:
            return os.stat(base, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def remove(self, rel: str, pfd: int, base: str, st: os.stat_result) -> None:
        if stat.S_ISDIR(st.st_mode):
            self.writers.wait_all()  # files of that tree may still be being written
            shutil.rmtree(base, dir_fd=pfd)
            prefix = rel + "/"
            if self.created is not None:
                self.created = {d for d in self.created if d != rel and not d.startswith(prefix)}
            self.setgid_dirs.discard(rel)
            self.forget_dirs()
        else:
            os.unlink(base, dir_fd=pfd)
            if self.created is not None:
                self.created.discard(rel)
            if stat.S_ISLNK(st.st_mode) and self.mode == PLAIN:
                self.forget_dirs()

    def whiteout(self, m: tarfile.TarInfo, parent: str, base: str) -> None:
        pfd = self.dir_fd(parent)
        if base == WHITEOUT_OPAQUE:
            os.setxattr(pfd, OPAQUE_XATTR, b"y")
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not part of the tree
        name = base[len(WHITEOUT_PREFIX) :]
        rel = name if parent == "." else parent + "/" + name
        st = self.lstat(rel, pfd, name)
        if st is not None:
            self.remove(rel, pfd, name, st)
            pfd = self.dir_fd(parent)
        os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=pfd)
        if self.created is not None:
            self.created.add(rel)
        if self.as_root:
            os.chown(name, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)

    def entry(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        rel = self.clean(m.name)
        if self.owner is not None:
            m.uid, m.gid = self.owner
        parent, base = posixpath.split(rel)
        parent = parent or "."
        if self.mode == LAYER and base.startswith(WHITEOUT_PREFIX):
            self.whiteout(m, parent, base)
            return
        if rel == ".":
            if not m.isdir():
                raise self.fail("the root entry is not a directory")
            if self.mode == PLAIN:
                return  # Docker leaves the destination itself alone
            self.root_attrs(m)
            return
        pfd = self.dir_fd(parent)
        st = self.lstat(rel, pfd, base)
        if st is not None and self.no_overwrite is not None:
            self.check_overwrite(rel, m, st)
        if st is not None and not (m.isdir() and stat.S_ISDIR(st.st_mode)):
            self.remove(rel, pfd, base, st)
            pfd = self.dir_fd(parent)
            st = None
        if self.created is not None:
            self.created.add(rel)

        if m.isdir():
            if st is None:
                os.mkdir(base, 0o700, dir_fd=pfd)
            if m.mode & stat.S_ISGID:
                self.setgid_dirs.add(rel)
            else:
                self.setgid_dirs.discard(rel)
        elif m.isreg():
            self.regular(tf, m, pfd, base, rel, parent)
            return
        elif m.issym():
            self.check_symlink(m, parent)
            os.symlink(m.linkname, base, dir_fd=pfd)
        elif m.islnk():
            self.hard_link(m, pfd, base)
            return  # the inode's attributes came with its first name
        elif m.ischr() or m.isblk() or m.isfifo():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
            os.mknod(base, kind | (m.mode & 0o7777), os.makedev(m.devmajor, m.devminor),
                     dir_fd=pfd)  # fmt: skip
        else:
            return  # unknown types (e.g. GNU volume headers) carry no file
        self.attrs(m, pfd, base, rel)

    def check_overwrite(self, rel: str, m: tarfile.TarInfo, st: os.stat_result) -> None:
        """docker cp's noOverwriteDirNonDir, with dockerd's words: no directory
        replaced by a non-directory, nor the reverse."""
        shown = self.no_overwrite or "/"
        target = posixpath.join(shown, rel)
        if stat.S_ISDIR(st.st_mode) and not m.isdir():
            raise SystemError_(
                "Error processing tar file(exit status 1): cannot overwrite directory "
                f'"{target}" with non-directory "{shown}"'
            )
        if not stat.S_ISDIR(st.st_mode) and m.isdir():
            raise SystemError_(
                "Error processing tar file(exit status 1): cannot overwrite non-directory "
                f'"{target}" with directory "{shown}"'
            )

    def check_symlink(self, m: tarfile.TarInfo, parent: str) -> None:
        """moby's createTarFile check: a relative target may not climb out (an
        absolute one is read inside the root by whoever follows it)."""
        if "\0" in m.linkname:
            raise self.fail(f"symlink {_shown(m.name)} target contains a NUL byte")
        if m.linkname.startswith("/") or self.mode == LAYER:
            return  # a layer never follows a link it holds: only Docker's untar refuses these
        target = posixpath.normpath(posixpath.join(parent, m.linkname))
        if target == ".." or target.startswith("../"):
            raise self.fail(f"invalid symlink {_shown(m.name)} -> {_shown(m.linkname)}")

    def hard_link(self, m: tarfile.TarInfo, pfd: int, base: str) -> None:
        target = self.clean(m.linkname, link=True)
        if target == ".":
            raise self.fail(f"hard link {_shown(m.name)} to the root")
        tparent, tbase = posixpath.split(target)
        missing = self.fail(
            f"hard link {_shown(m.name)} to {_shown(m.linkname)}, which is not in the {self.what}"
        )
        try:
            tpfd = self.dir_fd(tparent or ".", create=False)
        except InvalidArchive:
            if self.mode == LAYER:
                raise
            raise missing from None  # resolved in the root, it names nothing
        self.writers.wait(target)
        try:
            tst = os.stat(tbase, dir_fd=tpfd, follow_symlinks=False)
        except FileNotFoundError:
            raise missing from None
        if stat.S_ISDIR(tst.st_mode):
            raise self.fail(f"hard link {_shown(m.name)} to a directory")
        os.link(tbase, base, src_dir_fd=tpfd, dst_dir_fd=pfd, follow_symlinks=False)

    def regular(
        self, tf: tarfile.TarFile, m: tarfile.TarInfo, pfd: int, base: str, rel: str, parent: str
    ) -> None:
        """Create, fill and finish a regular file through one descriptor; the data is
        read straight off the tar stream (no per-member file object)."""
        mode = m.mode & 0o7777
        if m.issparse():  # the stored data is not m.size bytes: tarfile maps the holes
            fd = os.open(base, _CREATE_FLAGS, 0o600, dir_fd=pfd)
            try:
                self.copy_sparse(tf, m, fd)
            finally:
                os.close(fd)
            self.size += m.size
            self.attrs(m, pfd, base, rel)
            return
        chown = self.as_root and (m.uid != 0 or m.gid != self.egid or parent in self.setgid_dirs)
        chmod = mode != (mode & 0o777 & ~self.umask) or (self.as_root and bool(mode & 0o6000))
        xattrs = [
            (k[len(_XATTR_PREFIX) :], v.encode("utf-8", "surrogateescape"))
            for k, v in m.pax_headers.items()
            if k.startswith(_XATTR_PREFIX)
        ]
        meta = _FileMeta(
            mode, (m.uid, m.gid) if chown else None, chmod, xattrs, int(m.mtime * 1_000_000_000)
        )
        if m.size <= _POOL_MAX_FILE and not self.aliased:
            data = self.read_exact(tf.fileobj, m.size + (-m.size % 512), m.name)
            self.writers.submit(
                rel, _write_file, m.size, pfd, base, memoryview(data)[: m.size], meta
            )
            self.size += m.size
            return
        fd = os.open(base, _CREATE_FLAGS, mode & 0o777, dir_fd=pfd)
        try:
            src = tf.fileobj
            remaining = m.size
            while remaining:
                buf = src.read(min(_CHUNK, remaining))
                if not buf:
                    raise self.fail(f"unexpected end of data in {_shown(m.name)}")
                _write_all(fd, buf)
                remaining -= len(buf)
            if m.size % 512:
                self.read_exact(src, 512 - m.size % 512, m.name)
            meta.apply(fd)
        finally:
            os.close(fd)
        self.size += m.size

    def read_exact(self, src: Any, n: int, name: str) -> bytes:
        data = src.read(n)
        if len(data) != n:
            raise self.fail(f"unexpected end of data in {_shown(name)}")
        return bytes(data)

    def copy_sparse(self, tf: tarfile.TarFile, m: tarfile.TarInfo, fd: int) -> None:
        """A sparse member read in order (tarfile fills the holes with zeros, a stream
        cannot seek); zero blocks are skipped over, so holes stay holes."""
        src = tf.extractfile(m)
        assert src is not None
        remaining = m.size
        zero = bytes(64 << 10)
        while remaining:
            buf = src.read(min(len(zero), remaining))
            if not buf:
                raise self.fail(f"unexpected end of data in {_shown(m.name)}")
            if buf == zero[: len(buf)]:
                os.lseek(fd, len(buf), os.SEEK_CUR)
            else:
                _write_all(fd, buf)
            remaining -= len(buf)
        os.ftruncate(fd, m.size)

    def attrs(self, m: tarfile.TarInfo, pfd: int, base: str, rel: str) -> None:
        if self.as_root:
            os.chown(base, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        if not m.issym():
            os.chmod(base, m.mode & 0o7777, dir_fd=pfd, follow_symlinks=False)
        for k, v in m.pax_headers.items():
            if k.startswith(_XATTR_PREFIX):  # through the parent's fd, never a followed link
                os.setxattr(f"/proc/self/fd/{pfd}/{base}", k[len(_XATTR_PREFIX) :],
                            v.encode("utf-8", "surrogateescape"), follow_symlinks=False)  # fmt: skip
        ns = int(m.mtime * 1_000_000_000)
        if m.isdir():
            self.dir_times.append((rel, ns))
        else:
            os.utime(base, ns=(ns, ns), dir_fd=pfd, follow_symlinks=False)

    def root_attrs(self, m: tarfile.TarInfo) -> None:
        if self.as_root:
            os.fchown(self.root_fd, m.uid, m.gid)
        os.fchmod(self.root_fd, m.mode & 0o7777)
        for k, v in m.pax_headers.items():
            if k.startswith(_XATTR_PREFIX):
                os.setxattr(self.root_fd, k[len(_XATTR_PREFIX) :],
                            v.encode("utf-8", "surrogateescape"))  # fmt: skip
        self.dir_times.append((".", int(m.mtime * 1_000_000_000)))

    def finish(self) -> None:
        self.writers.wait_all()
        for rel, ns in reversed(self.dir_times):
            try:
                os.utime(self.dir_fd(rel, create=False), ns=(ns, ns))
            except (InvalidArchive, FileNotFoundError, NotADirectoryError):
                pass  # replaced by a later entry

    def close(self) -> None:
        self.writers.close()  # nothing may still write once we return
        for fd in {*self.dirfds.values(), *self.retired, self.root_fd, self.scope_fd}:
            os.close(fd)


def _umask() -> int:
    """The process umask, read without changing it (os.umask would race other threads)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


class _FileMeta(NamedTuple):
    """What a regular file is given once its content is written: owner (None keeps
    ours), mode (set only when `chmod`: the umask would not give it), xattrs, mtime."""

    mode: int
    owner: tuple[int, int] | None
    chmod: bool
    xattrs: list[tuple[str, bytes]]
    ns: int

    def apply(self, fd: int) -> None:
        if self.owner is not None:
            os.fchown(fd, *self.owner)
        if self.chmod:  # after chown, which clears setuid bits
            os.fchmod(fd, self.mode)
        for k, v in self.xattrs:
            os.setxattr(fd, k, v)
        os.utime(fd, ns=(self.ns, self.ns))


def _write_file(pfd: int, base: str, data: memoryview, meta: _FileMeta) -> None:
    fd = os.open(base, _CREATE_FLAGS, meta.mode & 0o777, dir_fd=pfd)
    try:
        if data:
            _write_all(fd, data)  # type: ignore[arg-type]
        meta.apply(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, buf: bytes) -> None:
    view = memoryview(buf)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def untar(
    root: str,
    stream: BinaryIO,
    *,
    mode: str = LAYER,
    owner: tuple[int, int] | None = None,
    scope: tuple[str, str] | None = None,
    no_overwrite_dir_non_dir: str | None = None,
) -> int:
    """Unpack the uncompressed tar `stream` into the directory `root`; returns the
    bytes of file content written. `owner` replaces every entry's uid:gid.
    `scope` (PLAIN): (a rootfs, `root`'s path inside it): symlinks met on the
    way are resolved inside that rootfs, as dockerd's untar chrooted into a
    container resolves them; by default inside `root`.
    `no_overwrite_dir_non_dir` (docker cp's option): the destination as the
    client named it; a directory replaced by a non-directory (or the reverse)
    is then dockerd's error (500).

    Raises InvalidArchive (InvalidLayer in LAYER mode) for malformed or escaping
    archives; `root` may then hold part of the archive, for the caller to discard.
    """
    ex = _Extractor(root, mode, owner, scope, no_overwrite_dir_non_dir)
    m: tarfile.TarInfo | None = None
    try:
        with tarfile.open(  # type: ignore[call-overload]
            fileobj=stream, mode="r|", errorlevel=2, bufsize=_TAR_BUFSIZE, tarinfo=FastTarInfo
        ) as tf:
            for m in tf:
                ex.entry(tf, m)
            m = None
        ex.finish()
    except (tarfile.TarError, EOFError) as exc:
        raise ex.fail(str(exc)) from None
    except UnicodeError as exc:
        raise ex.fail(f"undecodable header: {exc}") from None
    except OSError as exc:
        if exc.errno in _HOST_FAULTS or exc.errno is None:
            raise SystemError_(f"error extracting the {ex.what}: {exc}") from None
        where = f" at {_shown(m.name)}" if m is not None else ""
        raise ex.fail(f"{os.strerror(exc.errno)}{where}") from None
    finally:
        ex.close()
    return ex.size
