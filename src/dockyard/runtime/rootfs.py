"""The container's root file system: mounts, devices, pivot_root, masked paths.

Every destination is resolved inside the rootfs by ``secure_join`` (symlinks
are followed as if the rootfs were ``/``, so a link to ``/etc`` stays in the
rootfs), then opened ``O_PATH|O_NOFOLLOW`` and mounted through
``/proc/self/fd/N`` after checking where the fd really is (the CVE-2021-30465
class). All kernel calls go through a :class:`~.syscalls.Syscall`, so the
order of operations is unit-tested with a fake.
"""

from __future__ import annotations

import errno
import os
import stat

from dockyard.mountflags import (
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_SLAVE,
    parse_options,
)

from .spec import Mount, Spec, propagation_flag
from .syscalls import Syscall

__all__ = [
    "RootfsError",
    "secure_join",
    "prepare_rootfs",
    "finalize_rootfs",
    "mask_paths",
    "readonly_paths",
    "DEFAULT_DEVICES",
]

_ST_RDONLY = 1  # statvfs f_flag bits
_ST_NOSUID = 2
_ST_NODEV = 4
_ST_NOEXEC = 8

#: (path, major, minor) of the devices every container gets, mode 0666, root-owned.
DEFAULT_DEVICES = (
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/tty", 5, 0),
    ("/dev/urandom", 1, 9),
    ("/dev/random", 1, 8),
)
_DEV_SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
)
_MAX_SYMLINKS = 255


class RootfsError(OSError):
    """Setting up the root file system failed; the message names the step."""


def secure_join(root: str, unsafe: str, sys: Syscall) -> str:
    """``root/unsafe`` with every symlink resolved as if ``root`` were ``/``.

    ``..`` never climbs above ``root``; missing components are kept literally.
    The result is a host path inside ``root`` (filepath-securejoin's contract).
    """
    root = root.rstrip("/") or "/"
    pending = unsafe.split("/")
    pending.reverse()
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root + "/" + "/".join(resolved + [part])
        try:
            st = sys.lstat(candidate)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if not stat.S_ISLNK(st.st_mode):
            resolved.append(part)
            continue
        links += 1
        if links > _MAX_SYMLINKS:
            raise RootfsError(40, f"too many levels of symbolic links: {unsafe}")  # ELOOP
        target = sys.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        more = target.split("/")
        more.reverse()
        pending.extend(more)
    return root + "/" + "/".join(resolved) if resolved else root


def _make_inside(root: str, path: str, sys: Syscall, is_file: bool) -> None:
    """Create ``path`` (already resolved, inside ``root``) and its parents; never through a symlink."""
    rel = path[len(root) :].strip("/")
    if not rel:
        return
    parts = rel.split("/")
    current = root
    for i, part in enumerate(parts):
        current = current + "/" + part
        last = i == len(parts) - 1
        try:
            st = sys.lstat(current)
        except FileNotFoundError:
            if last and is_file:
                sys.create_file(current)
            else:
                sys.mkdir(current)
            continue
        if stat.S_ISLNK(st.st_mode):
            raise RootfsError(40, f"symlink appeared under the rootfs at {current}")
        if not last and not stat.S_ISDIR(st.st_mode):
            raise RootfsError(20, f"not a directory: {current}")  # ENOTDIR


def _mount_at(sys: Syscall, root: str, dest: str, source, fstype, flags, data) -> None:
    """Mount onto ``dest`` through an fd, after checking the fd is still inside ``root``."""
    fd = sys.open_path(dest)
    try:
        real = sys.fd_path(fd)
        if real != root and not real.startswith(root.rstrip("/") + "/"):
            raise RootfsError(18, f"mount destination {dest} escaped the rootfs to {real}")
        sys.mount(source, f"/proc/self/fd/{fd}", fstype, flags, data)
    finally:
        sys.close(fd)


def _mount_one(sys: Syscall, spec: Spec, m: Mount, cgroups: dict[str, str]) -> None:
    root = spec.root_path
    flags, propagation, data = parse_options(m.options)
    dest = secure_join(root, m.destination, sys)
    if m.type == "cgroup":
        _mount_cgroup(sys, spec, dest, flags, cgroups)
        return
    if m.is_bind():
        source = m.source if m.source.startswith("/") else os.path.join(spec.bundle, m.source)
        try:
            is_file = not stat.S_ISDIR(os.stat(source).st_mode)
        except OSError as e:
            raise RootfsError(e.errno, f"bind mount source {source}: {e.strerror}") from None
        _make_inside(root, dest, sys, is_file)
        _mount_at(sys, root, dest, source, None, MS_BIND | (flags & MS_REC), None)
        rest = flags & ~(MS_BIND | MS_REC | MS_REMOUNT)
        if rest:
            # a bind mount ignores flags: apply them with a remount
            _mount_at(sys, root, dest, None, None, rest | MS_BIND | MS_REMOUNT, None)
    else:
        _make_inside(root, dest, sys, False)
        try:
            _mount_at(sys, root, dest, m.source or m.type, m.type, flags, data)
        except OSError as e:
            if m.type != "sysfs" or e.errno != errno.EPERM:
                raise
            # runc's fallback: in a user namespace that does not own the network
            # namespace (the daemon made it), the kernel refuses a sysfs; bind the host's
            # (recursive: in a user namespace a plain bind of a mount with locked
            # submounts is EINVAL)
            _mount_at(sys, root, dest, "/sys", None, MS_BIND | MS_REC, None)
            _mount_at(sys, root, dest, None, None, flags | MS_BIND | MS_REMOUNT, None)
    for flag in propagation:
        _mount_at(sys, root, dest, None, None, flag, None)


def _cgroup_paths() -> dict[str, str]:
    """Controller (or ``name=...``) -> this process's path in that v1 hierarchy."""
    paths = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for c in controllers.split(","):
                if c:
                    paths[c] = path
    return paths


def _cgroup_v1_mounts() -> list[tuple[str, str]]:
    """(mount point, comma-joined controllers) of each v1 hierarchy, from mountinfo."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = right.split()
            if fields and fields[0] == "cgroup":
                point = left.split()[4]
                names = [o for o in fields[2].split(",") if o not in ("rw", "ro")]
                found.append((point, ",".join(names)))
    return found


def _mount_cgroup(sys: Syscall, spec: Spec, dest: str, flags: int, cgroups: dict[str, str]) -> None:
    """runc's layout. v2: one cgroup2 mount. v1: a tmpfs holding, per hierarchy, a
    fresh mount (in a cgroup namespace) or a bind of the container's own cgroup:
    ``cgroups`` (controller -> path in its hierarchy), as /proc/self/cgroup reads once
    the init is in them (it may not be yet)."""
    root = spec.root_path
    _make_inside(root, dest, sys, False)
    cgroupns = spec.namespace("cgroup") is not None
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        if cgroupns:
            _mount_at(sys, root, dest, "cgroup2", "cgroup2", flags, None)
        else:
            _mount_at(sys, root, dest, "/sys/fs/cgroup", None, MS_BIND | MS_REC, None)
            _mount_at(sys, root, dest, None, None, flags | MS_BIND | MS_REMOUNT, None)
        return
    _mount_at(sys, root, dest, "tmpfs", "tmpfs", flags & ~MS_RDONLY, "mode=755")
    paths = {**_cgroup_paths(), **cgroups}
    for point, names in _cgroup_v1_mounts():
        if point.startswith(root.rstrip("/") + "/"):
            continue  # the host's, under a /sys bound into the rootfs (the sysfs fallback)
        if cgroupns:
            sub = dest + "/" + os.path.basename(point)
            _make_inside(root, sub, sys, False)
            _mount_at(sys, root, sub, "cgroup", "cgroup", flags, names)
            continue
        name = names.split(",")[0]
        path = paths.get(name)
        if path is None:
            continue
        sub = dest + "/" + os.path.basename(point)
        _make_inside(root, sub, sys, False)
        source = point + path
        _mount_at(sys, root, sub, source, None, MS_BIND | MS_REC, None)
        _mount_at(sys, root, sub, None, None, flags | MS_BIND | MS_REMOUNT, None)


def _create_devices(sys: Syscall, root: str, devices: list[dict]) -> None:
    entries = [(path, 0o666, "c", major, minor, 0, 0) for path, major, minor in DEFAULT_DEVICES]
    for d in devices:
        entries.append(
            (
                d["path"],
                d.get("fileMode", 0o666),
                d.get("type", "c"),
                d.get("major", 0),
                d.get("minor", 0),
                d.get("uid", 0),
                d.get("gid", 0),
            )
        )
    old = os.umask(0)
    try:
        for path, mode, kind, major, minor, uid, gid in entries:
            dest = secure_join(root, path, sys)
            _make_inside(root, os.path.dirname(dest), sys, False)
            kind_bits = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}
            try:
                sys.lstat(dest)
                continue  # already there (e.g. listed twice)
            except FileNotFoundError:
                pass
            try:
                sys.mknod(dest, kind_bits[kind] | (mode & 0o7777), os.makedev(major, minor))
                sys.chown(dest, uid, gid)
            except PermissionError:
                # in a user namespace mknod is refused: bind the host's node instead
                sys.create_file(dest)
                _mount_at(sys, root, dest, path, None, MS_BIND, None)
    finally:
        os.umask(old)


def _dev_links(sys: Syscall, root: str) -> None:
    for target, link in _DEV_SYMLINKS + (("pts/ptmx", "/dev/ptmx"),):
        path = secure_join(root, link, sys)
        try:
            sys.symlink(target, path)
        except FileExistsError:
            pass


def _pivot_root(sys: Syscall, root: str) -> None:
    """runc's pivot_root(".", "."): no put_old directory left in the rootfs."""
    old_root = sys.open_dir("/")
    try:
        sys.chdir(root)
        sys.pivot_root(".", ".")
        sys.fchdir(old_root)
        # keep the unmount of the old root from propagating to the host
        sys.mount(None, ".", None, MS_SLAVE | MS_REC, None)
        sys.umount2(".", MNT_DETACH)
    finally:
        sys.close(old_root)
    sys.chdir("/")


def prepare_rootfs(
    sys: Syscall,
    spec: Spec,
    create_cwd: str = "/",
    before_pivot=None,
    cgroups: dict[str, str] | None = None,
) -> None:
    """Mount everything in config order inside the rootfs and pivot into it.

    Runs in the container's new mount namespace, as its PID 1 (so /proc is the
    container's). Steps, in order: make ``/`` rslave (or ``rootfsPropagation``),
    bind the rootfs on itself, the ``mounts``, device nodes, /dev links, the
    working directory if missing, pivot_root, then the propagation asked for
    the new root.
    """
    root = spec.root_path
    if spec.rootfs_propagation:
        sys.mount(None, "/", None, propagation_flag(spec.rootfs_propagation), None)
    else:
        sys.mount(None, "/", None, MS_SLAVE | MS_REC, None)
    sys.mount(root, root, "bind", MS_BIND | MS_REC, None)
    for m in spec.mounts:
        _mount_one(sys, spec, m, cgroups or {})
    if not any(m.destination.rstrip("/") == "/dev" and m.is_bind() for m in spec.mounts):
        _create_devices(sys, root, spec.devices)
        _dev_links(sys, root)
    _make_inside(root, secure_join(root, create_cwd, sys), sys, False)
    if before_pivot is not None:
        before_pivot()  # createContainer hooks: container namespaces, host paths
    _pivot_root(sys, root)
    if spec.rootfs_propagation in ("shared", "rshared"):
        sys.mount(None, "/", None, propagation_flag(spec.rootfs_propagation), None)


def _remount_readonly(sys: Syscall, path: str) -> None:
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY
    try:
        sys.mount(None, path, None, flags, None)
    except PermissionError:
        # locked flags (user namespaces) must be repeated on a remount
        vfs = sys.statvfs_flags(path)
        for bit, flag in ((_ST_NOSUID, MS_NOSUID), (_ST_NODEV, MS_NODEV), (_ST_NOEXEC, MS_NOEXEC)):
            if vfs & bit:
                flags |= flag
        sys.mount(None, path, None, flags, None)


def finalize_rootfs(sys: Syscall, spec: Spec) -> None:
    """After pivot_root: make ``/`` read-only if ``root.readonly``."""
    if spec.root_readonly:
        _remount_readonly(sys, "/")


def readonly_paths(sys: Syscall, paths: list[str]) -> None:
    """Bind each existing path on itself, read-only (``linux.readonlyPaths``)."""
    for path in paths:
        try:
            sys.mount(path, path, None, MS_BIND | MS_REC, None)
        except FileNotFoundError:
            continue
        _remount_readonly(sys, path)


def mask_paths(sys: Syscall, paths: list[str]) -> None:
    """Hide each existing path: /dev/null over files, a read-only tmpfs over directories."""
    for path in paths:
        try:
            sys.mount("/dev/null", path, None, MS_BIND, None)
        except FileNotFoundError:
            continue
        except NotADirectoryError:
            sys.mount("tmpfs", path, "tmpfs", MS_RDONLY, None)
