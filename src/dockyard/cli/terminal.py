"""The client side of an interactive terminal: our window size sent to the
daemon at start and on every SIGWINCH, and docker's client-side detach keys
(Ctrl-P Ctrl-Q) on a raw terminal's input (`proto.detachkeys`)."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def size() -> tuple[int, int] | None:
    """(height, width) of our terminal, or None off a terminal."""
    for stream in (sys.stdout, sys.stdin):
        try:
            if stream.isatty():
                cols, rows = os.get_terminal_size(stream.fileno())
                return rows, cols
        except (OSError, ValueError):
            continue
    return None


def follow_size(resize: Callable[[int, int], Any]) -> None:
    """Send our size now and whenever the window changes (errors ignored, as docker)."""
    import signal

    def send(*_: Any) -> None:
        hw = size()
        if hw:
            try:
                resize(*hw)
            except Exception:  # noqa: BLE001 - a failed resize never ends the session
                pass

    send()
    signal.signal(signal.SIGWINCH, send)


class DetachRequested(Exception):
    """The detach keys were typed."""


def pump_stdin(stream: Any, detach_keys: str | None, watch: bool) -> bool:
    """Copy our stdin to the stream; with `watch`, stop at the detach keys.
    True when the user detached; the write side is half-closed on EOF."""
    from dockyard.proto import detachkeys

    scanner = detachkeys.Scanner(detachkeys.parse(detach_keys or detachkeys.DEFAULT))
    fd = sys.stdin.fileno()
    try:
        while data := os.read(fd, 65536):
            if watch:
                data, detached = scanner.feed(data)
                if data:
                    stream.send(data)
                if detached:
                    return True
            else:
                stream.send(data)
    except OSError:
        pass
    stream.close_write()
    return False


def end(stream: Any) -> None:
    """Stop a hijacked stream from another thread: shutdown wakes a blocked recv
    (close alone does not)."""
    import socket

    try:
        stream.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
