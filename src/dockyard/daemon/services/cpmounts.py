"""The volumes and bind mounts of a stopped container, mounted over its root for
the time of a `docker cp` (GET/HEAD/PUT /containers/{id}/archive), as dockerd's
archive code mounts them: a copy under a volume path reads and writes the
volume, not the container's layer. And the rule that a PUT under a read-only
mount is refused ("mounted volume is marked read-only").

Each destination is resolved inside the root (`rootpath.openat_in_root`, no
symlink leads out), missing mount points are created as dockerd creates them,
and the mount goes on the resolved directory through its /proc/self/fd link.
ctypes mount(2) from `snapshot.mount`, as for the rootfs itself.
"""

from __future__ import annotations

import errno
import os
import posixpath
from typing import Any

from dockyard.api.errors import SystemError_
from dockyard.rootpath import openat_in_root
from dockyard.snapshot.mount import Mount, mount, remount_bind, unmount

_KINDS = ("volume", "bind")


def _depth(point: dict[str, Any]) -> int:
    return len([p for p in point["Destination"].split("/") if p])


def _make_mount_point(root_fd: int, dest: str, is_dir: bool) -> int:
    """An O_PATH fd of `dest` inside the root, made (directories, or an empty file
    for a file bind) where it is missing."""
    parts = [p for p in dest.split("/") if p]
    for i in range(1, len(parts) + 1):
        sub = "/".join(parts[:i])
        last = i == len(parts)
        try:
            fd = openat_in_root(root_fd, sub, os.O_PATH)
        except FileNotFoundError:
            parent = openat_in_root(root_fd, "/".join(parts[: i - 1]) or ".", os.O_DIRECTORY)
            try:
                if last and not is_dir:
                    os.close(os.open(parts[i - 1], os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC,
                                     0o644, dir_fd=parent))  # fmt: skip
                else:
                    os.mkdir(parts[i - 1], 0o755, dir_fd=parent)
            except FileExistsError:
                pass
            finally:
                os.close(parent)
            fd = openat_in_root(root_fd, sub, os.O_PATH)
        if last:
            return fd
        os.close(fd)
    return os.open(f"/proc/self/fd/{root_fd}", os.O_PATH | os.O_CLOEXEC)


def mount_points(root: str, points: list[dict[str, Any]]) -> list[str]:
    """Mount the volumes and binds of `points` (inspect's Mounts) under `root`,
    parents first; the mounted paths, for `unmount_points`."""
    done: list[str] = []
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for p in sorted((p for p in points if p["Type"] in _KINDS), key=_depth):
            source = p["Source"]
            if not source or not os.path.exists(source):
                continue
            fd = _make_mount_point(root_fd, p["Destination"], os.path.isdir(source))
            try:
                where = os.readlink(f"/proc/self/fd/{fd}")
                mount(Mount("bind", source, ("rbind",)), f"/proc/self/fd/{fd}")
                done.append(where)
            finally:
                os.close(fd)
            if not p.get("RW", True):
                # the fd saw the directory under the new mount: open the mount itself
                fd = openat_in_root(root_fd, p["Destination"], os.O_PATH)
                try:
                    remount_bind(f"/proc/self/fd/{fd}", ("ro",))
                finally:
                    os.close(fd)
    except BaseException:
        unmount_points(done)
        raise
    finally:
        os.close(root_fd)
    return done


def unmount_points(done: list[str]) -> None:
    for where in reversed(done):
        try:
            unmount(where)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise


def check_writable(points: list[dict[str, Any]], path: str, readonly_rootfs: bool) -> None:
    """dockerd's check before a PUT: the mount the path falls in must be writable
    (the deepest mount whose destination holds the path), or the rootfs if none.
    A 500, as dockerd (20.10) answers: it wraps these errors as system errors."""
    clean = posixpath.normpath("/" + path.lstrip("/"))
    best: dict[str, Any] | None = None
    for p in points:
        dest = posixpath.normpath(p["Destination"])
        if (clean == dest or clean.startswith(dest.rstrip("/") + "/")) and (
            best is None or len(dest) > len(best["Destination"])
        ):
            best = p
    if best is not None:
        if not best.get("RW", True):
            raise SystemError_("mounted volume is marked read-only")
    elif readonly_rootfs:
        raise SystemError_("container rootfs is marked read-only")
