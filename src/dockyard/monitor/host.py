"""A monitor host: one process that supervises many containers (`shim.Monitor`).

A Python interpreter per container costs ~2.7 MiB PSS even forked from a warm
zygote; Docker's engine memory is ~3 MiB per container and ours must be under
1 MiB. So monitors are grouped: one host process holds up to `capacity` of
them (the daemon's `--monitor-group-size`), sharing one interpreter, one
selector and one reaper. The host outlives the daemon (live restore): a daemon
that restarts finds the hosts by their sockets and keeps filling them.

The price of grouping is a shared fate: a host that dies takes the stdio and
exit codes of its containers with it (their processes go on). Monitors are
written not to raise into the loop (`Monitor.failed` logs and carries on), and
the group size bounds the blast radius, as containerd's shim grouping does.

Protocol, on the host's Unix socket (mode 0600), one request per connection:
  daemon → host: the path of a monitor config (monitor.json), then "\\n"
  host → daemon: the monitor's ready line (`protocol.py`), or
                 {"ok": false, "full": true} when the host has no room.
Children: the host is the subreaper. It forks the runtime for its monitors (in
process for our own runtime: fork + call, no exec) and reaps everything:
a runtime child goes to the callback that waits for it, a container's init or
an exec'd process to its monitor; an unknown pid is remembered until a
monitor claims it (an exec'd process may end before its pid file is read).
The host exits when it has had no monitor for `IDLE_EXIT` seconds.
"""

from __future__ import annotations

import ctypes
import json
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from dockyard.monitor.reaping import exited_children
from dockyard.monitor.shim import Monitor
from dockyard.monitor.sockets import accept, unix_listener
from dockyard.runtime.signals import reset_inherited

PR_SET_CHILD_SUBREAPER = 36
# seconds with nothing to watch before a host exits (the environment may say less:
# tests that watch a host come and go)
IDLE_EXIT = float(os.environ.get("DOCKYARD_MONITOR_IDLE_EXIT") or 60)
_ORPHANS_KEPT = 1024


class _Request:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""


class Host:
    def __init__(self, path: str, capacity: int) -> None:
        self.path = path
        self.capacity = max(1, capacity)
        self.sel = selectors.DefaultSelector()
        self.monitors: set[Monitor] = set()
        self.pending = 0  # requests whose monitor is being created
        self.waiters: dict[int, tuple[Monitor, Callable[[int], None] | None]] = {}
        self.by_pid: dict[int, Monitor] = {}
        self.orphans: OrderedDict[int, int] = OrderedDict()
        self.idle_since = time.monotonic()
        self.listener: socket.socket | None = None

    # ---- children -----------------------------------------------------------------
    def spawn(
        self,
        owner: Monitor,
        runtime: list[str],
        inproc: list[str] | None,
        args: list[str],
        fds: tuple[int | None, int | None, int | None],
        done: Callable[[int], None] | None,
    ) -> None:
        """Fork `runtime ARGS` (our own runtime called in the child when `inproc`
        is its argv, else exec'd) with `fds` as stdio; `done(exit code)` on reaping."""
        null = os.open(os.devnull, os.O_RDWR)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 127
            try:
                for fd, target in zip(fds, (0, 1, 2), strict=True):
                    os.dup2(null if fd is None else fd, target)
                os.closerange(3, 1 << 16)
                signal.set_wakeup_fd(-1)
                for sig in (signal.SIGCHLD, signal.SIGPIPE, signal.SIGTERM):
                    signal.signal(sig, signal.SIG_DFL)
                if inproc is None:
                    os.execvp(runtime[0], [*runtime, *args])
                from dockyard.runtime.cli import main as runtime_main

                code = runtime_main([*inproc, *args]) or 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                code = 127 if inproc is None else 1
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        os.close(null)
        self.waiters[pid] = (owner, done)

    def track(self, pid: int, m: Monitor) -> None:
        """`m`'s process is `pid` (read from a pid file once the runtime returned)."""
        status = self.orphans.pop(pid, None)
        if status is not None:
            m.on_exit(status)
        else:
            self.by_pid[pid] = m

    def reap(self) -> None:
        for pid, status in exited_children():
            waiter = self.waiters.pop(pid, None)
            if waiter is not None:
                owner, done = waiter
                if done is not None:
                    self.guard(owner, done, os.waitstatus_to_exitcode(status))
                continue
            m = self.by_pid.pop(pid, None)
            if m is not None:
                self.guard(m, m.on_exit, status)
                continue
            self.orphans[pid] = status
            while len(self.orphans) > _ORPHANS_KEPT:
                self.orphans.popitem(last=False)

    def guard(self, m: Monitor, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            m.failed(getattr(fn, "__name__", "callback"))

    def forget(self, m: Monitor) -> None:
        self.monitors.discard(m)
        for pid in [p for p, owner in self.by_pid.items() if owner is m]:
            del self.by_pid[pid]
        if not self.monitors:
            self.idle_since = time.monotonic()

    # ---- requests from the daemon -------------------------------------------------
    def listen(self) -> None:
        self.listener = unix_listener(self.path, 64)
        self.sel.register(self.listener, selectors.EVENT_READ, (None, "accept", None))

    def on_accept(self) -> None:
        assert self.listener is not None
        sock = accept(self.listener)
        if sock is not None:
            self.pending += 1  # until its line is read
            self.sel.register(sock, selectors.EVENT_READ, (None, "request", _Request(sock)))

    def on_request(self, req: _Request) -> None:
        try:
            data = req.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        req.buf += data
        if data and b"\n" not in req.buf and len(req.buf) < 4096:
            return
        self.sel.unregister(req.sock)
        self.pending -= 1
        path = req.buf.split(b"\n", 1)[0].decode(errors="replace").strip()
        if not path:
            self._answer(req, None)
            return
        if len(self.monitors) >= self.capacity:
            self._answer(req, {"ok": False, "full": True})
            return
        try:
            with open(path) as f:
                cfg = json.load(f)
            m = Monitor(self, cfg)
            m.listen()
        except Exception as exc:
            self._answer(req, {"ok": False, "error": f"monitor: {exc}"})
            return
        self.monitors.add(m)

        def reply(result: dict[str, Any]) -> None:
            self._answer(req, result)

        try:
            m.create(reply)
        except Exception as exc:
            m.failed("create")
            reply({"ok": False, "error": f"monitor: {exc}"})
            m.cleanup()

    def _answer(self, req: _Request, result: dict[str, Any] | None) -> None:
        if req.sock.fileno() < 0:
            return
        if result is not None:
            req.sock.setblocking(True)
            req.sock.settimeout(1.0)
            try:
                req.sock.sendall(json.dumps(result).encode() + b"\n")
            except OSError:
                pass
        req.sock.close()

    # ---- the loop -------------------------------------------------------------------
    def serve(self, ready: int | None = None) -> None:
        """Listen, say "ready" on `ready` (an fd, then closed), loop until idle."""
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        reset_inherited()  # its forks run the runtime: nothing ignored to pass on
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.sel.register(wake_r, selectors.EVENT_READ, (None, "wake", None))
        self.listen()
        if ready is not None:
            os.write(ready, b"ready\n")
            os.close(ready)
        try:
            self.loop(wake_r)
        finally:
            self.close()

    def loop(self, wake_r: int) -> None:
        while True:
            now = time.monotonic()
            deadline: float | None = None
            for m in list(self.monitors):
                try:
                    when = m.tick(now)
                except Exception:
                    m.failed("tick")
                    when = None
                if when is not None and (deadline is None or when < deadline):
                    deadline = when
            if not self.monitors and not self.pending and not self.waiters:
                if now - self.idle_since >= IDLE_EXIT:
                    return
                idle_end = self.idle_since + IDLE_EXIT
                deadline = idle_end if deadline is None else min(deadline, idle_end)
            timeout = None if deadline is None else max(0.0, deadline - now) + 0.001
            for key, mask in self.sel.select(timeout):
                m, kind, obj = key.data
                if m is not None:
                    self.guard(m, m.on_event, kind, obj, mask)
                elif kind == "wake":
                    try:
                        while os.read(wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                    self.reap()
                elif kind == "accept":
                    self.on_accept()
                elif kind == "request":
                    try:
                        self.on_request(obj)
                    except Exception:
                        traceback.print_exc()

    def close(self) -> None:
        """Stop taking requests: the socket goes first, so a daemon's next
        connection is refused and it asks another host."""
        if self.listener is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.listener.close()
            self.listener = None


def serve(path: str, capacity: int, ready: int | None) -> None:
    os.chdir("/")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    log = os.open(path + ".log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 2)
    os.close(log)
    if ready != 1:
        os.dup2(devnull, 1)
    os.close(devnull)
    Host(path, capacity).serve(ready)


def main() -> None:
    """`dockyard-monitor SOCKET [CAPACITY]`: leave the caller at once (it reads
    "ready" on our stdout), then serve."""
    if len(sys.argv) not in (2, 3):
        print("usage: dockyard-monitor SOCKET [CAPACITY]", file=sys.stderr)
        sys.exit(2)
    capacity = int(sys.argv[2]) if len(sys.argv) == 3 else 32
    from dockyard.runtime.container import preload

    preload()  # the runtime's children start warm (a zygote's hosts have this)
    if os.fork():
        os._exit(0)
    os.setsid()
    ready = os.dup(1)
    serve(sys.argv[1], capacity, ready)
    os._exit(0)
