"""The monitor's side of `--console-socket`: receive a pty master, resize it.

The runtime (runc's protocol, `dockyard.runtime.console`) connects to a Unix
socket the monitor listens on and sends one message whose single SCM_RIGHTS
fd is the pty master. The monitor listens *before* it runs the runtime and
receives *after* the runtime returned: the connection and its message wait in
the listen backlog, so no thread or loop is needed around `runtime create`.
"""

from __future__ import annotations

import fcntl
import os
import select
import socket
import struct
import termios


class ConsoleSocket:
    def __init__(self, path: str) -> None:
        self.path = path
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o600)
        self.sock.listen(1)

    def receive(self, timeout: float = 5.0) -> int:
        """The pty master the runtime sent (non-blocking, close-on-exec)."""
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            raise OSError("the runtime sent no console")
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(timeout)
            _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 4)
        if not fds:
            raise OSError("the console message held no fd")
        for extra in fds[1:]:
            os.close(extra)
        master = fds[0]
        os.set_inheritable(master, False)
        os.set_blocking(master, False)
        return master

    def close(self) -> None:
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def resize(master: int, height: int, width: int) -> None:
    """TIOCSWINSZ on the master: the kernel sends SIGWINCH to the foreground group."""
    if height <= 0 or width <= 0:
        raise ValueError("height and width must be positive")
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def size(fd: int) -> tuple[int, int]:
    h, w, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return h, w
