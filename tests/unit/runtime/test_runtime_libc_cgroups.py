"""The thin libc binding (real calls, harmless ones) and the cgroup managers' paths on a
temp dir tree (no cgroup file system needed)."""

from __future__ import annotations

import errno
import os

from dockyard.runtime import libc
from dockyard.runtime.cgroups import CgroupV1, CgroupV2, from_paths


def test_int_and_long_returns_and_errno():
    assert libc.function("getpid")() == os.getpid()
    # syscall(2) returns a long: SYS_getppid is 110 on x86_64, 173 on aarch64
    number = {"x86_64": 110, "aarch64": 173}[os.uname().machine]
    assert libc.function("syscall", returns_long=True)(libc.Long(number)) == os.getppid()
    # an int function's -1 stays negative, and errno is kept for the caller
    assert libc.function("close")(1 << 20) == -1
    assert libc.errno() == errno.EBADF


def test_buffers_hold_and_return_bytes():
    small = libc.buffer(b"lo")
    assert len(small.raw) == libc.Buffer._length_ and small.raw.startswith(b"lo\0")
    big = libc.buffer(bytes(range(256)) * 2)
    assert big.raw == bytes(range(256)) * 2 and libc.address(big) != libc.address(small)
    # C reads the memory: strlen of the buffer
    assert libc.function("strlen")(small) == 2


def test_v1_hierarchy_paths_from_own_cgroups(tmp_path):
    for controller in ("cpu", "memory", "pids", "systemd"):
        (tmp_path / controller).mkdir()
    own = {"cpu": "/", "memory": "/sandbox/a", "pids": "/", "name=systemd": "/user.slice"}
    relative = CgroupV1.resolve("c1", str(tmp_path), own)
    assert relative.paths()["memory"] == f"{tmp_path}/memory/sandbox/a/c1"
    assert relative.hierarchy_paths() == {
        "cpu": "/c1",
        "memory": "/sandbox/a/c1",
        "pids": "/c1",
        "name=systemd": "/user.slice/c1",
    }
    absolute = CgroupV1.resolve("/dockyard/c1", str(tmp_path), own)
    assert set(absolute.hierarchy_paths().values()) == {"/dockyard/c1"}
    # what a later command rebuilds from the state keeps the same paths
    assert from_paths(absolute.paths()).paths() == absolute.paths()


def test_v2_hierarchy_path(tmp_path):
    manager = CgroupV2.resolve("c2", str(tmp_path), {"": "/system.slice/x"})
    assert manager.paths() == {"": f"{tmp_path}/system.slice/x/c2"}
    assert manager.hierarchy_paths() == {"": "/system.slice/x/c2"}
