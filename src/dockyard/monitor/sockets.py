"""The non-blocking Unix listening sockets of monitors, monitor hosts and the
zygote (mode 0600: only root talks to them)."""

from __future__ import annotations

import os
import socket


def unix_listener(path: str, backlog: int) -> socket.socket:
    """A non-blocking listening socket at `path` (mode 0600), replacing a stale one."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    listener.listen(backlog)
    listener.setblocking(False)
    return listener


def accept(listener: socket.socket) -> socket.socket | None:
    """A non-blocking connection, or None if none was waiting after all."""
    try:
        sock, _ = listener.accept()
    except BlockingIOError:
        return None
    sock.setblocking(False)
    return sock
