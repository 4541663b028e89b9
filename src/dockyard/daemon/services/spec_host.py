"""The host I/O the OCI spec needs, kept apart from the pure builder: the user looked
up in the container's rootfs, the capabilities this kernel and the daemon's bounding set
allow, ``--device`` paths and (``--privileged``) every device under /dev, the daemon's
security flags (a seccomp profile file, /etc/subuid), and the ownership shift of a
rootfs for ``--userns-remap``.

`gather` computes the `HostFacts` that `spec_builder.build_spec` takes.
"""

from __future__ import annotations

import contextlib
import os
import stat as stat_
from collections.abc import Callable
from typing import Any

from dockyard.api.errors import InvalidParameter
from dockyard.daemon.services.hostconfig import parse_ulimit
from dockyard.daemon.services.ocispec import resolve_user
from dockyard.daemon.services.spec_inputs import HostDevice, HostFacts, SecurityDefaults
from dockyard.rootpath import open_in_root

__all__ = [
    "gather", "host_devices", "known_capabilities", "load_security_defaults", "read_in_root",
    "remap_rootfs_ownership", "stat_device",
]  # fmt: skip


def read_in_root(root: str, rel: str) -> str:
    """A small text file from the container's rootfs, never following links out of it."""
    try:
        with open_in_root(root, rel) as f:
            return f.read(1 << 20).decode("utf-8", "replace")
    except (FileNotFoundError, NotADirectoryError):
        return ""


def gather(config: dict[str, Any], host_config: dict[str, Any], rootfs: str) -> HostFacts:
    """What the spec of this start needs from the host and the container's rootfs."""
    user = resolve_user(
        config.get("User") or "0",
        read_in_root(rootfs, "etc/passwd"),
        read_in_root(rootfs, "etc/group"),
    )
    devices = {}
    for d in host_config.get("Devices") or []:
        path = d.get("PathOnHost") or ""
        devices[path] = stat_device(path)
    every = tuple(host_devices()) if host_config.get("Privileged") else ()
    return HostFacts(user, tuple(known_capabilities()), devices, every)


def known_capabilities() -> list[str]:
    """Every capability this kernel knows (cap_last_cap) and the daemon holds, in order."""
    names = [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
        "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
        "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
        "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
        "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
        "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
    ]  # fmt: skip
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except OSError:
        last = len(names) - 1
    # what the daemon itself may hand out: its bounding set (a sandboxed host may lack some)
    bounding = (1 << (last + 1)) - 1
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    bounding = int(line.split()[1], 16)
    except OSError:
        pass
    return ["CAP_" + n for i, n in enumerate(names[: last + 1]) if bounding >> i & 1]


def stat_device(path: str) -> HostDevice:
    try:
        st = os.stat(path)
    except OSError as e:
        raise InvalidParameter(
            f"error gathering device information while adding custom device {path!r}: "
            f"{e.strerror.lower() if e.strerror else e}"
        ) from None
    if stat_.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat_.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        raise InvalidParameter(
            f"error gathering device information while adding custom device {path!r}: "
            "not a device node"
        )
    return HostDevice(
        kind, os.major(st.st_rdev), os.minor(st.st_rdev), stat_.S_IMODE(st.st_mode),
        st.st_uid, st.st_gid,
    )  # fmt: skip


def host_devices() -> list[tuple[str, HostDevice]]:
    """Every device node under the host's /dev (what --privileged gives)."""
    found = []
    for dirpath, dirnames, filenames in os.walk("/dev"):
        dirnames[:] = [d for d in dirnames if d not in ("pts", "shm", "mqueue", "fd")]
        for name in filenames:
            path = os.path.join(dirpath, name)
            if path in ("/dev/console", "/dev/ptmx", "/dev/tty") or os.path.islink(path):
                continue
            try:
                found.append((path, stat_device(path)))
            except InvalidParameter:
                continue
    return found


# ---- the daemon's flags: a seccomp profile file, /etc/subuid and /etc/subgid -----------------


def _subid_range(path: str, names: tuple[str, ...]) -> tuple[int, int]:
    with open(path) as f:
        for line in f:
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[0] in names:
                return int(parts[1]), int(parts[2])
    raise ValueError(f"no subordinate ids for {names[0]} in {path}")


def load_security_defaults(
    seccomp_profile: str | None,
    default_ulimits: list[str],
    userns_remap: str | None,
    subuid: str = "/etc/subuid",
    subgid: str = "/etc/subgid",
) -> SecurityDefaults:
    """dockerd's `--seccomp-profile`, `--default-ulimit`, `--userns-remap`."""
    from dockyard.runtime.seccomp_profile import default_profile, parse

    if seccomp_profile in (None, "", "builtin"):
        profile: dict[str, Any] | None = default_profile()
    elif seccomp_profile == "unconfined":
        profile = None
    else:
        with open(seccomp_profile) as f:
            profile = parse(f.read())
    limits = {}
    for text in default_ulimits:
        name, soft, hard = parse_ulimit(text)
        limits[name] = (soft, hard)
    remap = None
    if userns_remap:
        user, _, group = userns_remap.partition(":")
        user = "dockremap" if user == "default" else user
        group = group or user
        import grp
        import pwd

        names_u = _id_names(
            user, lambda n: pwd.getpwnam(n).pw_uid, lambda i: pwd.getpwuid(i).pw_name
        )
        names_g = _id_names(
            group, lambda n: grp.getgrnam(n).gr_gid, lambda i: grp.getgrgid(i).gr_name
        )
        uid, usize = _subid_range(subuid, names_u)
        gid, gsize = _subid_range(subgid, names_g)
        remap = (uid, gid, min(usize, gsize))
    return SecurityDefaults(profile, limits, remap)


def _id_names(
    name: str, to_id: Callable[[str], int], to_name: Callable[[int], str]
) -> tuple[str, ...]:
    """A user or group as both its name and its number (either may stand in
    /etc/subuid and /etc/subgid); as given alone when the system does not know it."""
    with contextlib.suppress(KeyError, ValueError):
        return (name, to_name(int(name))) if name.isdigit() else (name, str(to_id(name)))
    return (name,)


def _make_reachable(path: str, tops: list[str]) -> None:
    """Search permission for others on every directory from ``path``'s up to its top."""
    here = os.path.dirname(os.path.abspath(path))
    top = next((t for t in map(os.path.abspath, tops) if here.startswith(t)), None)
    while top is not None and here.startswith(top):
        mode = os.stat(here).st_mode
        if not mode & 0o001:
            os.chmod(here, (mode & 0o7777) | 0o001)
        if here == top:
            break
        here = os.path.dirname(here)


def remap_rootfs_ownership(
    rootfs: str,
    remap: tuple[int, int, int],
    tops: list[str] | None = None,
    sources: list[str] | None = None,
) -> None:
    """`--userns-remap`: shift the owner of every file of a container's rootfs into the
    remapped range (chown-on-copy: overlayfs copies each file up into the container's own
    layer, the image's layers stay as they are). Done once: a root already owned by the
    remapped root is left alone. Never follows symlinks (lchown, walk without links).
    The directories from the rootfs and the bind ``sources`` up to the daemon's roots
    (``tops``) get search permission for others (not listing), so that the remapped root
    can reach them."""
    uid_base, gid_base, size = remap
    for path in [rootfs, *(sources or [])]:
        _make_reachable(path, tops or [])
    st = os.lstat(rootfs)
    if st.st_uid == uid_base and st.st_gid == gid_base:
        return

    def shift(path: str) -> None:
        s = os.lstat(path)
        uid = s.st_uid + uid_base if s.st_uid < size else s.st_uid
        gid = s.st_gid + gid_base if s.st_gid < size else s.st_gid
        mode = s.st_mode
        os.lchown(path, uid, gid)
        if not os.path.islink(path) and mode & 0o6000:
            os.chmod(path, mode & 0o7777)  # chown clears setuid/setgid bits: restore them

    for dirpath, dirnames, filenames in os.walk(rootfs, followlinks=False):
        for name in dirnames + filenames:
            shift(os.path.join(dirpath, name))
    shift(rootfs)
