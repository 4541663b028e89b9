"""COPY/ADD file operations, as the classic builder does them, into a mounted
rootfs (an overlay mount of the step's snapshot, so lower layers are seen).

- Sources: paths in the context (or another stage's / image's rootfs) with
  Go's filepath.Match wildcards per component; never outside their root.
- Destination: relative to WORKDIR; a trailing `/`, an existing directory or
  several sources make it a directory (several sources without a trailing
  `/` is Docker's error); a source directory copies its contents.
- Ownership: 0:0 unless `--chown`; `--chmod` overrides modes; mtimes kept.
- ADD extracts local tar archives (any compression) instead of copying them.
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

from dockyard.builder.fsview import HOST, FileView, is_dir, lexists
from dockyard.store.compression import decompressed

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
    """`mkdir -p` inside `root`; new directories are 0755 uid:gid. Returns the host path."""
    cur = "/"
    for name in [p for p in path.split("/") if p not in ("", ".")]:
        cur = posixpath.join(cur, name)
        host = resolve_in_root(root, cur)
        if not os.path.lexists(host):
            os.mkdir(host, 0o755)
            os.chown(host, uid, gid)
        elif not os.path.isdir(host):
            raise CopyError(f"mkdir {cur}: not a directory")
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


def glob_sources(src_root: str, src: str, fs: FileView = HOST) -> list[tuple[str, str]]:
    """(host path, path relative to src_root) of every source `src` names;
    directories on the way are resolved inside `src_root`."""
    clean = posixpath.normpath("/" + src).lstrip("/")
    if not _WILD.search(clean):
        host = resolve_in_root(src_root, clean, follow_last=False, fs=fs)
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
    return found


def is_archive(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            kind, raw = decompressed(f)
            head = raw.read(512)
    except (OSError, ValueError, EOFError):
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


def _copy_tree(src: str, dst: str, uid: int | None, gid: int | None, chmod: int | None) -> None:
    st = os.lstat(src)
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        if not os.path.isdir(dst):
            if os.path.lexists(dst):
                os.unlink(dst)
            os.mkdir(dst)
        for name in sorted(os.listdir(src)):
            _copy_tree(os.path.join(src, name), os.path.join(dst, name), uid, gid, chmod)
    elif stat.S_ISLNK(mode):
        if os.path.lexists(dst):
            if os.path.isdir(dst) and not os.path.islink(dst):
                shutil.rmtree(dst)
            else:
                os.unlink(dst)
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISREG(mode):
        if os.path.isdir(dst) and not os.path.islink(dst):
            shutil.rmtree(dst)
        elif os.path.lexists(dst):
            os.unlink(dst)
        shutil.copyfile(src, dst, follow_symlinks=False)
    else:
        return  # devices, fifos, sockets are not copied from a context
    os.lchown(dst, 0 if uid is None else uid, 0 if gid is None else gid)
    if not stat.S_ISLNK(mode):
        os.chmod(dst, chmod if chmod is not None else stat.S_IMODE(mode))
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _extract(archive: str, dst: str, uid: int | None, gid: int | None) -> None:
    with open(archive, "rb") as f:
        _, raw = decompressed(f)
        with tarfile.open(fileobj=raw, mode="r|") as tf:  # type: ignore[call-overload]
            for m in tf:
                if uid is not None:
                    m.uid, m.gid = uid, gid or 0
                tf.extract(m, dst, set_attrs=True, numeric_owner=True, filter="tar")


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
    """Copy `sources` (host paths) to `dest` inside the mounted rootfs `root`."""
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
    for host, _ in sources:
        st = os.lstat(host)
        if stat.S_ISDIR(st.st_mode):
            d = mkdir_in_root(root, path)
            for name in sorted(os.listdir(host)):
                _copy_tree(os.path.join(host, name), os.path.join(d, name), uid, gid, chmod)
            continue
        if extract and stat.S_ISREG(st.st_mode) and is_archive(host):
            d = mkdir_in_root(root, path)
            _extract(host, d, uid, gid)
            continue
        if dest_is_dir:
            d = mkdir_in_root(root, path)
            out = os.path.join(d, os.path.basename(host))
        else:
            parent = mkdir_in_root(root, posixpath.dirname(path))
            out = os.path.join(parent, posixpath.basename(path))
        _copy_tree(host, out, uid, gid, chmod)


def write_file(root: str, dest: str, workdir: str, content: bytes, uid: int | None,
               gid: int | None, chmod: int | None) -> None:  # fmt: skip
    """A heredoc (`COPY <<EOF /path`) becomes a file."""
    path = posixpath.normpath(
        dest if dest.startswith("/") else posixpath.join(workdir or "/", dest)
    )
    if dest.endswith("/"):
        raise CopyError("a heredoc destination must be a file")
    parent = mkdir_in_root(root, posixpath.dirname(path))
    out = os.path.join(parent, posixpath.basename(path))
    with open(out, "wb") as f:
        f.write(content)
    os.lchown(out, uid or 0, gid or 0)
    os.chmod(out, chmod if chmod is not None else 0o644)
