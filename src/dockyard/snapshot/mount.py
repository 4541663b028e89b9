"""Mounts as data, and the two syscalls that apply them (mount(2), umount2(2)).

A snapshotter returns `Mount`s; whoever owns the target (the container monitor)
mounts them. ctypes, not the `mount` binary: one fork+exec saved on every
`docker run`, and no dependence on util-linux's option parsing: the option names
are the runtime's (`dockyard.mountflags`, runc's table).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass

from dockyard.mountflags import MNT_DETACH, MS_BIND, MS_REC, MS_REMOUNT, parse_options


@dataclass(frozen=True, slots=True)
class Mount:
    """One mount: `type` (overlay, bind), `source`, and fstab-style `options`."""

    type: str
    source: str
    options: tuple[str, ...] = ()

    def to_api(self) -> dict[str, object]:
        return {"Type": self.type, "Source": self.source, "Options": list(self.options)}

    @classmethod
    def from_api(cls, d: dict[str, object]) -> Mount:
        return cls(str(d["Type"]), str(d["Source"]), tuple(str(o) for o in d.get("Options") or ()))  # type: ignore[union-attr]


_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        lib.mount.argtypes = [
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_char_p,
        ]
        lib.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        _libc = lib
    return _libc


def _mount(source: str, target: str, fstype: str, flags: int, data: str) -> None:
    rc = _lib().mount(
        source.encode(), target.encode(), fstype.encode(), flags, data.encode() if data else None
    )
    if rc != 0:
        err = ctypes.get_errno()
        shown = data if len(data) <= 300 else data[:300] + "..."
        raise OSError(err, f"mount {fstype} {source} on {target} ({shown}): {os.strerror(err)}")


def mount(m: Mount, target: str) -> None:
    flags, propagation, data = parse_options(m.options)
    if m.type == "bind" or flags & MS_BIND:
        _mount(m.source, target, "none", flags & (MS_BIND | MS_REC) | MS_BIND, "")
        if flags & ~(MS_BIND | MS_REC):
            # A bind mount ignores the other flags until it is remounted.
            _mount("none", target, "none", flags | MS_BIND | MS_REMOUNT, "")
    elif m.type == "overlay" and len(data) > MAX_MOUNT_DATA:
        _mount_short_lowers(m.source, target, flags, data)
    else:
        _mount(m.source, target, m.type, flags, data)
    for flag in propagation:  # a call of its own, as moby's mount.Mount does
        _mount("none", target, "none", flag, "")


def remount_bind(target: str, options: tuple[str, ...]) -> None:
    """Apply `options` (ro, nosuid...) to the bind mount at `target`."""
    flags, _, _ = parse_options(options)
    _mount("none", target, "none", flags | MS_BIND | MS_REMOUNT, "")


# mount(2) copies at most one page of option data; a longer lowerdir is cut short.
MAX_MOUNT_DATA = 4095


def shorten_lowers(data: str, dir_fd: int, root: str) -> str:
    """Rewrite the lowerdir paths under `root` as `/proc/self/fd/<dir_fd>/<rel>` (pure).

    Docker's overlay2 chdirs to its root and mounts relative short links; a
    magic link to an open directory does the same without touching the
    process's working directory, which other threads share.
    """
    prefix = root.rstrip("/") + "/"
    out = []
    for opt in data.split(","):
        if opt.startswith("lowerdir="):
            lowers = [
                f"/proc/self/fd/{dir_fd}/{p[len(prefix) :]}" if p.startswith(prefix) else p
                for p in opt[len("lowerdir=") :].split(":")
            ]
            opt = "lowerdir=" + ":".join(lowers)
        out.append(opt)
    return ",".join(out)


def _mount_short_lowers(source: str, target: str, flags: int, data: str) -> None:
    lowers = next(o for o in data.split(",") if o.startswith("lowerdir="))[9:].split(":")
    root = os.path.commonpath(lowers)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        short = shorten_lowers(data, fd, root)
        if len(short) > MAX_MOUNT_DATA:
            raise OSError(7, f"mount overlay on {target}: {len(lowers)} layers are too many")
        _mount(source, target, "overlay", flags, short)
    finally:
        os.close(fd)


def mount_all(mounts: list[Mount], target: str) -> None:
    """Mount each in order on `target`; on failure, undo the ones already mounted."""
    done = 0
    try:
        for m in mounts:
            mount(m, target)
            done += 1
    except BaseException:
        for _ in range(done):
            unmount(target)
        raise


def unmount(target: str, flags: int = MNT_DETACH) -> None:
    """umount2(target, MNT_DETACH); a target that is not mounted is not an error."""
    rc = _lib().umount2(target.encode(), flags)
    if rc != 0:
        err = ctypes.get_errno()
        if err == 22:  # EINVAL: not a mount point
            return
        raise OSError(err, f"umount {target}: {os.strerror(err)}")


def is_mounted(target: str) -> bool:
    real = os.path.realpath(target)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split(" ", 5)
            if fields[4].encode().decode("unicode_escape") == real:
                return True
    return False
