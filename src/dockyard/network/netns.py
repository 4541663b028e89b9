"""Persistent network namespaces, made and configured by exec'd programs.

The daemon is a multi-threaded asyncio process and never calls unshare/setns
itself: util-linux `unshare --net=FILE true` creates a namespace and bind-mounts
it on FILE (a shell in it turns IPv6 off and runs `ip link set lo up`);
`nsenter --net=FILE ip -batch -` configures the inside (loopback, eth0's address,
routes) in one exec. The host side (bridge, veth, moving the
peer in by fd) is done over netlink with pyroute2 (see links.py), which does
not fork. Removal is umount2 + unlink.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import subprocess

from dockyard.api.errors import SystemError_
from dockyard.mountflags import MNT_DETACH

_libc = ctypes.CDLL(None, use_errno=True)
_V6_OFF = "/proc/sys/net/ipv6/conf/{}/disable_ipv6"


def create(path: str) -> None:
    """A new namespace bind-mounted on `path`, its loopback up (one exec: `ip` runs in it)."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path, "w"):
        pass
    # IPv6 off on every interface (lo, and the ones that come: `default`), as dockerd
    # has it in a container on networks without IPv6; run_ip turns it on where wanted.
    # /proc/sys/net is the opening process's namespace's: the shell inside writes it.
    p = subprocess.run(
        ["unshare", f"--net={path}", "sh", "-c",
         f"echo 1 > {_V6_OFF.format('default')} && echo 1 > {_V6_OFF.format('all')} && "
         "exec ip link set lo up"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    if p.returncode != 0:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise SystemError_(f"failed to create network namespace: {p.stderr.strip()}")


def run_ip(path: str, commands: list[str], ipv6_on: list[str] | None = None) -> None:
    """`ip -batch` in the namespace; first IPv6 turned on for the `ipv6_on` links
    (an IPv6 address cannot be added while it is off)."""
    argv = ["ip", "-batch", "-"]
    if ipv6_on:
        writes = " && ".join(f"echo 0 > {_V6_OFF.format(i)}" for i in ipv6_on)
        argv = ["sh", "-c", f"{writes} && exec ip -batch -"]
    p = subprocess.run(
        ["nsenter", f"--net={path}", *argv],
        input="\n".join(commands) + "\n",
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        raise SystemError_(f"failed to set up the container's network: {p.stderr.strip()}")


def remove(path: str) -> None:
    """Unmount and unlink: the kernel frees the namespace when no process is left
    in it, and with it the container's ends of its veth pairs (so the host's
    ends go too, a few ms later). umount2(2) directly: no namespace change."""
    if _libc.umount2(os.fsencode(path), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise SystemError_(f"failed to remove network namespace {path}: {os.strerror(err)}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def exists(path: str) -> bool:
    return os.path.ismount(path)
