"""The kernel calls the runtime makes, behind one class (youki's ``Syscall`` trait).

``Syscall`` names every operation rootfs and init logic needs; ``LinuxSyscall``
does them for real (:mod:`.libc` on the C library already linked into Python, since
Python 3.11 has no ``os.unshare``/``os.setns``/``mount``), and the unit tests
pass a recording fake. :mod:`.libc` is loaded on first use so that ``state``
or ``kill`` never pay for it.
"""

from __future__ import annotations

import os

__all__ = ["Syscall", "LinuxSyscall", "NAMESPACE_FLAGS"]

CLONE_NEWTIME = 0x80
CLONE_NEWNS = 0x20000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

#: OCI namespace type -> clone flag.
NAMESPACE_FLAGS = {
    "pid": CLONE_NEWPID,
    "network": CLONE_NEWNET,
    "mount": CLONE_NEWNS,
    "ipc": CLONE_NEWIPC,
    "uts": CLONE_NEWUTS,
    "user": CLONE_NEWUSER,
    "cgroup": CLONE_NEWCGROUP,
    "time": CLONE_NEWTIME,
}
#: OCI namespace type -> the file name under /proc/PID/ns.
NAMESPACE_FILES = {
    "pid": "pid",
    "network": "net",
    "mount": "mnt",
    "ipc": "ipc",
    "uts": "uts",
    "user": "user",
    "cgroup": "cgroup",
    "time": "time",
}

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

CLOSE_RANGE_CLOEXEC = 1 << 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
_SYS_CLOSE_RANGE = 436
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


class Syscall:
    """Every kernel and file-system call that container set-up makes.

    Methods raise :class:`OSError` with ``errno`` set, as :mod:`os` does.
    """

    # kernel calls
    def unshare(self, flags: int) -> None:
        raise NotImplementedError

    def setns(self, fd: int, nstype: int) -> None:
        raise NotImplementedError

    def mount(
        self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None
    ) -> None:
        raise NotImplementedError

    def umount2(self, target: str, flags: int) -> None:
        raise NotImplementedError

    def pivot_root(self, new_root: str, put_old: str) -> None:
        raise NotImplementedError

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        raise NotImplementedError

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        raise NotImplementedError

    def sethostname(self, name: str) -> None:
        raise NotImplementedError

    def setdomainname(self, name: str) -> None:
        raise NotImplementedError

    def personality(self, persona: int) -> None:
        raise NotImplementedError

    def set_link_up(self, name: str) -> None:
        raise NotImplementedError

    def cloexec_from(self, first: int) -> None:
        raise NotImplementedError

    # file system calls
    def lstat(self, path: str) -> os.stat_result:
        return os.lstat(path)

    def readlink(self, path: str) -> str:
        return os.readlink(path)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        os.mkdir(path, mode)

    def create_file(self, path: str, mode: int = 0o644) -> None:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW, mode))

    def symlink(self, target: str, path: str) -> None:
        os.symlink(target, path)

    def mknod(self, path: str, mode: int, device: int) -> None:
        os.mknod(path, mode, device)

    def chown(self, path: str, uid: int, gid: int) -> None:
        os.chown(path, uid, gid, follow_symlinks=False)

    def chdir(self, path: str) -> None:
        os.chdir(path)

    def statvfs_flags(self, path: str) -> int:
        return os.statvfs(path).f_flag

    def open_path(self, path: str) -> int:
        """An ``O_PATH|O_NOFOLLOW`` fd to mount onto through /proc/self/fd."""
        return os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)

    def open_dir(self, path: str) -> int:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def fd_path(self, fd: int) -> str:
        return os.readlink(f"/proc/self/fd/{fd}")

    def fchdir(self, fd: int) -> None:
        os.fchdir(fd)

    def close(self, fd: int) -> None:
        os.close(fd)


class LinuxSyscall(Syscall):
    """The real thing, through the C library (:mod:`.libc`, not ctypes: see there)."""

    def __init__(self) -> None:
        from . import libc

        self._c = c = libc
        f = c.function
        self._unshare, self._setns = f("unshare"), f("setns")
        self._mount, self._umount2, self._prctl = f("mount"), f("umount2"), f("prctl")
        self._capset, self._personality = f("capset"), f("personality")
        self._sethostname, self._setdomainname = f("sethostname"), f("setdomainname")
        self._socket, self._ioctl = f("socket"), f("ioctl")
        self._syscall = f("syscall", returns_long=True)

    def _check(self, result: int, what: str = "", path: str | None = None) -> int:
        if result < 0:
            err = self._c.errno()
            raise OSError(err, f"{what}: {os.strerror(err)}" if what else os.strerror(err), path)
        return result

    def unshare(self, flags: int) -> None:
        self._check(self._unshare(flags), "unshare")

    def setns(self, fd: int, nstype: int) -> None:
        self._check(self._setns(fd, nstype), "setns")

    def mount(self, source, target, fstype, flags, data) -> None:
        enc = os.fsencode
        self._check(
            self._mount(
                enc(source) if source is not None else None,
                enc(target),
                enc(fstype) if fstype is not None else None,
                self._c.ULong(flags),
                enc(data) if data else None,
            ),
            "mount",
            target,
        )

    def umount2(self, target: str, flags: int) -> None:
        self._check(self._umount2(os.fsencode(target), flags), "umount2", target)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        number = _SYS_PIVOT_ROOT[os.uname().machine]
        self._check(
            self._syscall(self._c.Long(number), os.fsencode(new_root), os.fsencode(put_old)),
            "pivot_root",
            new_root,
        )

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        u = self._c.ULong
        return self._check(self._prctl(option, u(arg2), u(arg3), u(arg4), u(arg5)), "prctl")

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        mask = 0xFFFFFFFF
        words = (_LINUX_CAPABILITY_VERSION_3, 0)  # the header, then two data structs
        words += (effective & mask, permitted & mask, inheritable & mask)
        words += (effective >> 32, permitted >> 32, inheritable >> 32)
        memory = self._c.buffer(b"".join(w.to_bytes(4, "little") for w in words))
        self._check(self._capset(memory, self._c.ULong(self._c.address(memory) + 8)), "capset")

    def sethostname(self, name: str) -> None:
        raw = name.encode()
        self._check(self._sethostname(raw, self._c.ULong(len(raw))), "sethostname")

    def setdomainname(self, name: str) -> None:
        raw = name.encode()
        self._check(self._setdomainname(raw, self._c.ULong(len(raw))), "setdomainname")

    def personality(self, persona: int) -> None:
        self._check(self._personality(self._c.ULong(persona)), "personality")

    def set_link_up(self, name: str) -> None:
        # libc's ioctl, not fcntl's: importing fcntl costs the init ~1 ms
        fd = self._check(self._socket(2, 2 | 0o2000000, 0), "socket")  # AF_INET, DGRAM|CLOEXEC
        try:
            request = self._c.buffer(name.encode())  # struct ifreq: name, then flags at 16
            self._check(self._ioctl(fd, self._c.ULong(_SIOCGIFFLAGS), request), "SIOCGIFFLAGS")
            raw = request.raw
            flags = int.from_bytes(raw[16:18], "little") | _IFF_UP
            request.raw = raw[:16] + flags.to_bytes(2, "little") + raw[18:]
            self._check(self._ioctl(fd, self._c.ULong(_SIOCSIFFLAGS), request), "SIOCSIFFLAGS")
        finally:
            os.close(fd)

    def cloexec_from(self, first: int) -> None:
        long = self._c.Long
        result = self._syscall(
            long(_SYS_CLOSE_RANGE), long(first), long(0xFFFFFFFF), long(CLOSE_RANGE_CLOEXEC)
        )
        if result < 0:  # kernels before 5.11: walk the table
            for name in os.listdir("/proc/self/fd"):
                fd = int(name)
                if fd >= first:
                    try:
                        os.set_inheritable(fd, False)
                    except OSError:
                        pass
