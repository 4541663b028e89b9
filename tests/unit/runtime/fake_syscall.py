"""A recording, in-memory :class:`Syscall` for rootfs tests (no root, no kernel)."""

from __future__ import annotations

import os
import stat

from dockyard.runtime.syscalls import Syscall


class FakeSyscall(Syscall):
    """Files are a dict path -> ("dir" | "file" | ("link", target) | ("dev", mode, rdev))."""

    def __init__(self, tree: dict | None = None):
        self.tree: dict[str, object] = {"/": "dir"}
        for path, kind in (tree or {}).items():
            self.tree[path] = kind
        self.calls: list[tuple] = []
        self.fds: dict[int, str] = {}

    def _record(self, *call: object) -> None:
        self.calls.append(call)

    def lstat(self, path: str) -> os.stat_result:
        kind = self.tree.get(path.rstrip("/") or "/")
        if kind is None:
            raise FileNotFoundError(2, "No such file or directory", path)
        if kind == "dir":
            mode = stat.S_IFDIR | 0o755
        elif kind == "file":
            mode = stat.S_IFREG | 0o644
        elif kind[0] == "link":
            mode = stat.S_IFLNK | 0o777
        else:
            mode = kind[1]
        return os.stat_result((mode, 0, 0, 1, 0, 0, 0, 0, 0, 0))

    def readlink(self, path: str) -> str:
        return self.tree[path][1]

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        if path in self.tree:
            raise FileExistsError(17, "File exists", path)
        self.tree[path] = "dir"
        self._record("mkdir", path)

    def create_file(self, path: str, mode: int = 0o644) -> None:
        self.tree[path] = "file"
        self._record("create_file", path)

    def symlink(self, target: str, path: str) -> None:
        if path in self.tree:
            raise FileExistsError(17, "File exists", path)
        self.tree[path] = ("link", target)
        self._record("symlink", target, path)

    def mknod(self, path: str, mode: int, device: int) -> None:
        self.tree[path] = ("dev", mode, device)
        self._record("mknod", path, mode, os.major(device), os.minor(device))

    def chown(self, path: str, uid: int, gid: int) -> None:
        self._record("chown", path, uid, gid)

    def chdir(self, path: str) -> None:
        self._record("chdir", path)

    def fchdir(self, fd: int) -> None:
        self._record("fchdir", self.fds[fd])

    def open_path(self, path: str) -> int:
        fd = 100 + len(self.fds)
        self.fds[fd] = path
        return fd

    def open_dir(self, path: str) -> int:
        return self.open_path(path)

    def fd_path(self, fd: int) -> str:
        return self.fds[fd]

    def close(self, fd: int) -> None:
        pass

    def mount(self, source, target, fstype, flags, data) -> None:
        if target.startswith("/proc/self/fd/"):
            target = "fd:" + self.fds[int(target.rsplit("/", 1)[1])]
        self._record("mount", source, target, fstype, flags, data)

    def umount2(self, target: str, flags: int) -> None:
        self._record("umount2", target, flags)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._record("pivot_root", new_root, put_old)

    def statvfs_flags(self, path: str) -> int:
        return 0
