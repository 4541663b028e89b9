"""The monitor zygote: one warm, single-threaded process that forks monitors.

A fresh interpreter per monitor costs ~60 ms of start-up and imports and
~7 MiB of private memory. The zygote imports the monitor once, freezes the
garbage collector's view of that heap (`gc.freeze`, so children do not dirty
shared pages when they collect), and forks one child per container: start-up
becomes a fork, and most of a monitor's memory stays shared with the zygote.

The daemon never forks (it is a threaded asyncio program); the zygote is the
one process that does, as ARCHITECTURE.md asks of a "warm helper".

Protocol, on a Unix socket the daemon names (mode 0600):
  daemon → zygote: the path of a monitor config (monitor.json), then "\\n"
  zygote: fork → child: new session, named `dy-monitor` (ps, /proc/PID/comm),
          the connection on fd 1, SIGCHLD default,
          `dockyard.monitor.main.main()` with argv [monitor, config] — which
          forks again and exits, so the monitor is no child of the zygote
  monitor → daemon, on the same connection: the ready line of `protocol.py`
The zygote exits when its stdin (a pipe from the daemon) reaches EOF.
"""

from __future__ import annotations

import gc
import os
import selectors
import signal
import socket
import sys


def _serve_child(conn: socket.socket, listener: socket.socket, config: str) -> None:
    """In the forked child: become `dockyard-monitor CONFIG` with the connection as stdout."""
    from dockyard.monitor import main as monitor

    try:
        os.setsid()
        _set_name(b"dy-monitor")
        listener.close()
        os.dup2(conn.fileno(), 1)
        conn.close()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.closerange(3, 1 << 16)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        gc.unfreeze()
        sys.argv = ["dockyard-monitor", config]
        monitor.main()
    except SystemExit as exc:
        os._exit(exc.code if isinstance(exc.code, int) else 1)
    except BaseException:
        os._exit(1)
    os._exit(0)


def _set_name(name: bytes) -> None:
    """The process name ps and /proc/PID/comm show (a fork keeps the zygote's argv)."""
    import ctypes

    PR_SET_NAME = 15
    ctypes.CDLL(None).prctl(PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(path: str) -> None:
    import dockyard.monitor.main  # noqa: F401  (warm: the children run it)
    import dockyard.runtime.cli  # noqa: F401  (and the runtime, in-process)
    import dockyard.runtime.container  # noqa: F401

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
    listener.listen(64)
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
                conn, _ = listener.accept()
                conn.settimeout(5)
                try:
                    config = conn.makefile("rb").readline().decode().strip()
                except OSError:
                    conn.close()
                    continue
                if not config:
                    conn.close()
                    continue
                if os.fork() == 0:
                    _serve_child(conn, listener, config)
                conn.close()
            _reap()
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
