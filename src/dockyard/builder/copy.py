"""COPY/ADD file operations, as the classic builder does them, into a mounted
rootfs (an overlay mount of the step's snapshot, so lower layers are seen).

- Sources: paths in the context (or another stage's / image's rootfs) with
  Go's filepath.Match wildcards per component; never outside their root: a
  name climbing out with `..` is dockerd's "forbidden path outside the build
  context", and a source that is a symlink is followed inside its root (the
  file or directory it leads to is copied under the link's name), as the
  legacy builder does; symlinks inside a copied directory stay links.
- Destination: relative to WORKDIR; a trailing `/`, an existing directory or
  several sources make it a directory (several sources without a trailing
  `/` is Docker's error); a source directory copies its contents.
- Ownership: 0:0 unless `--chown`; `--chmod` overrides modes; mtimes kept.
- ADD extracts local tar archives (any compression) instead of copying them,
  through the project's one extractor (`dockyard.untar`, PLAIN mode: names
  resolved inside the rootfs as Docker's chrooted untar does); an archive that
  tries to leave the rootfs fails the step with its message.
- Every destination path is resolved inside the root (symlinks in the image
  are followed as the container would see them, never out of it).
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import stat
import tarfile

from dockyard.api.errors import DockyardError
from dockyard.builder.fsview import HOST, FileView, is_dir, lexists
from dockyard.store.compression import decompressed
from dockyard.untar import PLAIN, untar

_WILD = re.compile(r"[*?\[]")


class CopyError(ValueError):
    pass


def resolve_in_root(root: str, path: str, follow_last: bool = True, fs: FileView = HOST) -> str:
    """The host path of `path` as seen from inside `root` (symlinks followed
    inside the root, like chroot would; missing components are fine)."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        name = parts.pop(0)
        if name == "..":
            if resolved:
                resolved.pop()
            continue
        host = os.path.join(root, *resolved, name)
        try:
            st = fs.lstat(host)
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(name)
            continue
        if stat.S_ISLNK(st.st_mode) and (parts or follow_last):
            hops += 1
            if hops > 255:
                raise CopyError(f"too many levels of symbolic links: {path}")
            target = fs.readlink(host)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(name)
    return os.path.join(root, *resolved)


def mkdir_in_root(root: str, path: str, uid: int = 0, gid: int = 0) -> str:
    """`mkdir -p` inside `root`; new directories are 0755 uid:gid. Returns the host path.
    A link to nothing on the way gets what it names made (dockerd's MkdirAll in scope)."""
    cur = "/"
    for name in [p for p in path.split("/") if p not in ("", ".")]:
        cur = posixpath.join(cur, name)
        host = resolve_in_root(root, cur)
        missing = []
        p = host
        while not os.path.lexists(p):  # stops at `root` at the latest: `host` is under it
            missing.append(p)
            p = os.path.dirname(p)
        if not os.path.isdir(p) or os.path.islink(p):
            raise CopyError(f"mkdir {cur}: not a directory")
        for d in reversed(missing):
            os.mkdir(d, 0o755)
            os.chown(d, uid, gid)
    return resolve_in_root(root, path)


def match(pattern: str, name: str) -> bool:
    """Go's filepath.Match for one path component."""
    rx = ["^"]
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            rx.append("[^/]*")
        elif c == "?":
            rx.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 2)
            if j < 0:
                raise CopyError(f"syntax error in pattern: {pattern}")
            body = pattern[i + 1 : j]
            if body.startswith("^"):
                body = "^" + body[1:].replace("\\", "\\\\")
            else:
                body = body.replace("\\", "\\\\")
            rx.append(f"[{body}]")
            i = j
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            rx.append(re.escape(pattern[i]))
        else:
            rx.append(re.escape(c))
        i += 1
    rx.append("$")
    return re.match("".join(rx), name) is not None


def _source_name(src: str) -> str:
    """The source as dockerd names it in errors (one leading `/` and `./` dropped);
    CopyError when it climbs out of its root."""
    shown = src[1:] if src.startswith("/") and len(src) > 1 else src
    shown = shown.removeprefix("./")
    rel = posixpath.normpath(shown) if shown else "."
    if rel == ".." or rel.startswith("../"):
        raise CopyError(f"forbidden path outside the build context: {shown} ()")
    return shown


def glob_sources(src_root: str, src: str, fs: FileView = HOST) -> list[tuple[str, str]]:
    """(host path, path relative to src_root) of every source `src` names;
    paths are resolved inside `src_root`, a symlink source to what it leads to
    (the relative path keeps the name it was given)."""
    _source_name(src)
    clean = posixpath.normpath("/" + src).lstrip("/")
    if not _WILD.search(clean):
        host = resolve_in_root(src_root, clean, fs=fs)
        if not lexists(fs, host):
            raise CopyError(
                f"file not found in build context or excluded by .dockerignore: stat {src}: "
                "file does not exist"
            )
        return [(host, clean or ".")]
    found: list[tuple[str, str]] = [(src_root, "")]
    for comp in clean.split("/"):
        nxt: list[tuple[str, str]] = []
        for _, rel in found:
            host = resolve_in_root(src_root, rel, fs=fs)
            if not is_dir(fs, host):
                continue
            if _WILD.search(comp):
                for name in sorted(fs.listdir(host)):
                    if match(comp, name):
                        nxt.append((os.path.join(host, name), f"{rel}/{name}".lstrip("/")))
            else:
                p = os.path.join(host, comp)
                if lexists(fs, p):
                    nxt.append((p, f"{rel}/{comp}".lstrip("/")))
        found = nxt
    if not found:
        raise CopyError(f"no source files were specified (pattern {src} matched nothing)")
    out = []
    for _, rel in found:
        host = resolve_in_root(src_root, rel, fs=fs)
        if lexists(fs, host):  # a link to nothing is skipped, as dockerd's walk does
            out.append((host, rel))
    if not out:
        raise CopyError(f"no source files were specified (pattern {src} matched nothing)")
    return out


def is_archive(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            kind, raw = decompressed(f)
            head = b""
            while len(head) < 512 and (more := raw.read(512 - len(head))):
                head += more  # a reader may return less than asked
    except (OSError, ValueError, EOFError, DockyardError):
        return False
    return (
        len(head) == 512
        and head[257:262] == b"ustar"
        or (len(head) == 512 and _valid_v7_header(head))
    )


def _valid_v7_header(head: bytes) -> bool:
    try:
        tarfile.TarInfo.frombuf(head, "utf-8", "surrogateescape")
        return True
    except tarfile.HeaderError:
        return False


_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _copy_tree(
    src: str, dfd: int, name: str, uid: int | None, gid: int | None, chmod: int | None
) -> None:
    """Copy `src` to `name` in the directory `dfd`. Everything is done relative to
    that fd without following a link the image holds: a symlink where a
    directory goes is replaced by the directory, as dockerd's untar replaces it
    (following it could lead out of the rootfs to the host)."""
    st = os.lstat(src)
    mode = st.st_mode
    try:
        cur: os.stat_result | None = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        cur = None
    if cur is not None and not (stat.S_ISDIR(mode) and stat.S_ISDIR(cur.st_mode)):
        if stat.S_ISDIR(cur.st_mode):
            shutil.rmtree(name, dir_fd=dfd)
        else:
            os.unlink(name, dir_fd=dfd)
        cur = None
    if stat.S_ISDIR(mode):
        if cur is None:
            os.mkdir(name, 0o755, dir_fd=dfd)
        sub = os.open(name, _DIR, dir_fd=dfd)
        try:
            for child in sorted(os.listdir(src)):
                _copy_tree(os.path.join(src, child), sub, child, uid, gid, chmod)
        finally:
            os.close(sub)
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(src), name, dir_fd=dfd)
    elif stat.S_ISREG(mode):
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with open(src, "rb") as fin, open(os.open(name, flags, 0o600, dir_fd=dfd), "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
    else:
        return  # devices, fifos, sockets are not copied from a context
    os.chown(name, 0 if uid is None else uid, 0 if gid is None else gid, dir_fd=dfd,
             follow_symlinks=False)  # fmt: skip
    if not stat.S_ISLNK(mode):
        os.chmod(name, chmod if chmod is not None else stat.S_IMODE(mode), dir_fd=dfd,
                 follow_symlinks=False)  # fmt: skip
    os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dfd, follow_symlinks=False)


def _copy_into(
    src: str, dst_dir: str, name: str, uid: int | None, gid: int | None, chmod: int | None
) -> None:
    """`_copy_tree` into the host directory `dst_dir` (already resolved inside the rootfs)."""
    dfd = os.open(dst_dir, _DIR)
    try:
        _copy_tree(src, dfd, name, uid, gid, chmod)
    finally:
        os.close(dfd)


def _extract(
    archive: str, root: str, path: str, dst: str, uid: int | None, gid: int | None
) -> None:
    owner = None if uid is None else (uid, gid or 0)
    try:
        with open(archive, "rb") as f:
            _, raw = decompressed(f)
            untar(dst, raw, mode=PLAIN, owner=owner, scope=(root, path))
    except DockyardError as exc:
        raise CopyError(exc.message) from None


def copy(
    root: str,
    sources: list[tuple[str, str]],
    dest: str,
    workdir: str,
    *,
    uid: int | None = None,
    gid: int | None = None,
    chmod: int | None = None,
    extract: bool = False,
    instruction: str = "COPY",
) -> None:
    """Copy `sources` (host paths) to `dest` inside the mounted rootfs `root`;
    a failure is a CopyError with the cause (the build stream reports it)."""
    try:
        _copy(root, sources, dest, workdir, uid, gid, chmod, extract, instruction)
    except OSError as exc:
        raise CopyError(f"{exc.strerror or exc}: {dest}") from None


def _copy(
    root: str,
    sources: list[tuple[str, str]],
    dest: str,
    workdir: str,
    uid: int | None,
    gid: int | None,
    chmod: int | None,
    extract: bool,
    instruction: str,
) -> None:
    dest_is_dir = dest.endswith("/") or dest in (".", "..") or dest.endswith("/.")
    path = dest if dest.startswith("/") else posixpath.join(workdir or "/", dest)
    path = posixpath.normpath(path)
    if len(sources) > 1 and not dest_is_dir:
        raise CopyError(
            f"When using {instruction} with more than one source file, the destination must "
            "be a directory and end with a /"
        )
    target = resolve_in_root(root, path)
    if os.path.isdir(target):
        dest_is_dir = True
    for host, rel in sources:
        st = os.lstat(host)
        if stat.S_ISDIR(st.st_mode):
            d = mkdir_in_root(root, path)
            for name in sorted(os.listdir(host)):
                _copy_into(os.path.join(host, name), d, name, uid, gid, chmod)
            continue
        if extract and stat.S_ISREG(st.st_mode) and is_archive(host):
            d = mkdir_in_root(root, path)
            _extract(host, root, path, d, uid, gid)
            continue
        if dest_is_dir:
            d = mkdir_in_root(root, path)
            name = posixpath.basename(rel) or os.path.basename(host)
        else:
            d = mkdir_in_root(root, posixpath.dirname(path))
            name = posixpath.basename(path)
        _copy_into(host, d, name, uid, gid, chmod)


def write_file(root: str, dest: str, workdir: str, content: bytes, uid: int | None,
               gid: int | None, chmod: int | None) -> None:  # fmt: skip
    """A heredoc (`COPY <<EOF /path`) becomes a file."""
    path = posixpath.normpath(
        dest if dest.startswith("/") else posixpath.join(workdir or "/", dest)
    )
    if dest.endswith("/"):
        raise CopyError("a heredoc destination must be a file")
    parent = mkdir_in_root(root, posixpath.dirname(path))
    name = posixpath.basename(path)
    dfd = os.open(parent, _DIR)
    try:  # a link the image holds there is replaced, never written through
        try:
            cur = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if stat.S_ISDIR(cur.st_mode):
                raise CopyError(f"cannot write {path}: is a directory")
            os.unlink(name, dir_fd=dfd)
        except FileNotFoundError:
            pass
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, 0o600, dir_fd=dfd)
        with open(fd, "wb") as f:
            f.write(content)
            os.fchown(fd, uid or 0, gid or 0)
            os.fchmod(fd, chmod if chmod is not None else 0o644)
    finally:
        os.close(dfd)
