"""``process.terminal``: a pty made inside the container, its master sent over
``--console-socket`` with SCM_RIGHTS (runc's protocol: one message whose data
is the name ``/dev/ptmx`` and whose single fd is the master). The slave becomes
the process's stdin/stdout/stderr and controlling terminal.

``socket`` costs ~13 ms to import, so only the terminal path loads it, and
the init loads it *before* pivot_root (the host's library is gone after).
"""

from __future__ import annotations

import os

__all__ = ["connect_console_socket", "setup_console", "preload"]

_TIOCSPTLCK = 0x40045431
_TIOCGPTN = 0x80045430
_TIOCSWINSZ = 0x5414
_TIOCSCTTY = 0x540E


def preload() -> None:
    """Import what ``setup_console`` needs while the host's library is reachable."""
    import fcntl  # noqa: F401
    import socket  # noqa: F401
    import struct  # noqa: F401


def connect_console_socket(path: str) -> int:
    """Connect to the caller's Unix socket; the fd goes to the container's init."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as e:
        sock.close()
        raise OSError(
            e.errno, f"failed to connect to console socket {path}: {e.strerror}"
        ) from None
    return sock.detach()


def setup_console(socket_fd: int, size: tuple[int, int] | None, uid: int, gid: int) -> None:
    """In the container (after pivot_root): open a pty, send the master, take the slave."""
    import fcntl
    import socket
    import struct

    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
        number = struct.unpack("I", fcntl.ioctl(master, _TIOCGPTN, b"\0" * 4))[0]
        slave = os.open(f"/dev/pts/{number}", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        os.fchown(slave, uid, gid)
        if size and size[0] and size[1]:
            fcntl.ioctl(master, _TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
        sock = socket.socket(fileno=socket_fd)
        try:
            socket.send_fds(sock, [b"/dev/ptmx"], [master])
        finally:
            sock.close()
    finally:
        os.close(master)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.close(slave)
    fcntl.ioctl(0, _TIOCSCTTY, 0)
