"""The monitor zygote: one warm, single-threaded process that forks monitor hosts.

A fresh interpreter costs ~60 ms of start-up and imports and ~7 MiB of private
memory. The zygote imports the monitor host and our runtime once, freezes the
garbage collector's view of that heap (`gc.freeze`, so children do not dirty
shared pages when they collect), and forks each monitor host (`host.py`):
start-up becomes a fork, and much of a host's memory stays shared with the
zygote and its sibling hosts.

The daemon never forks (it is a threaded asyncio program); the zygote is the
one process that does, as ARCHITECTURE.md asks of a "warm helper".

Protocol, on a Unix socket the daemon names (mode 0600):
  daemon → zygote: "SOCKET CAPACITY\n", the new host's socket path and size
  zygote: fork → child: new session, named `dy-monitor` (ps, /proc/PID/comm),
          SIGCHLD default, forks again and exits, so the host is no child of
          the zygote (it outlives the daemon); the grandchild serves the host
  host → daemon, on the same connection: "ready\n" once it listens
The zygote exits when its stdin (a pipe from the daemon) reaches EOF.
"""

from __future__ import annotations

import gc
import os
import selectors
import signal
import socket
import sys

from dockyard.monitor.reaping import exited_children


def _serve_child(conn: socket.socket, listener: socket.socket, request: str) -> None:
    """In the forked child: become a monitor host answering "ready" on the connection."""
    from dockyard.monitor import host

    try:
        path, _, capacity = request.partition(" ")
        os.setsid()
        _set_name(b"dy-monitor")
        listener.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        gc.unfreeze()
        if os.fork():
            os._exit(0)
        ready = os.dup(conn.fileno())
        conn.close()
        os.closerange(3, ready)
        os.closerange(ready + 1, 1 << 16)
        host.serve(path, int(capacity or 32), ready)
    except BaseException:
        os._exit(1)
    os._exit(0)


def _set_name(name: bytes) -> None:
    """The process name ps and /proc/PID/comm show (a fork keeps the zygote's argv)."""
    import ctypes

    PR_SET_NAME = 15
    ctypes.CDLL(None).prctl(PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0)


def serve(path: str) -> None:
    import dockyard.monitor.host  # noqa: F401  (warm: the children run it)
    import dockyard.runtime.cli  # noqa: F401  (and the runtime, in-process)
    import dockyard.runtime.container
    from dockyard.monitor.sockets import accept, unix_listener

    dockyard.runtime.container.preload()  # what `create` imports on first use
    from dockyard.runtime.signals import reset_inherited

    reset_inherited()  # started by a daemon under nohup: hosts must not inherit that
    listener = unix_listener(path, 64)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    gc.collect()
    gc.freeze()
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, "accept")
    sel.register(0, selectors.EVENT_READ, "stdin")
    print("ready", flush=True)
    try:
        while True:
            for key, _ in sel.select(1.0):
                if key.data == "stdin":
                    if not os.read(0, 4096):
                        return  # the daemon is gone
                    continue
                conn = accept(listener)
                if conn is None:
                    continue
                conn.settimeout(5)
                try:
                    request = conn.makefile("rb").readline().decode().strip()
                except OSError:
                    conn.close()
                    continue
                if not request:
                    conn.close()
                    continue
                if os.fork() == 0:
                    _serve_child(conn, listener, request)
                conn.close()
            for _ in exited_children():  # the hosts it forked are reaped, nothing more
                pass
    finally:
        listener.close()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def main() -> None:
    if len(sys.argv) != 2:
        print("usage: python -m dockyard.monitor.zygote SOCKET", file=sys.stderr)
        sys.exit(2)
    serve(sys.argv[1])


if __name__ == "__main__":
    main()
