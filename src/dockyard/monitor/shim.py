"""One container's (or one exec's) monitor, the shim: its logic, driven by a host.

A `Monitor` is the supervisor of one container's init, or of one exec'd
process: it holds the process's stdio (pipes or a pty master), writes the
json-file log, relays output to the daemon over its own socket
(`exec-root/s/<id>`), records the exit status on disk (`exit.json`) and cleans
up (`runtime delete`, then unmounts the rootfs). The wire protocol is in
`protocol.py`.

Monitors live in a monitor host process (`host.py`), many to a process, which
outlives the daemon: the host owns the selector, reaps children (it is the
subreaper every container init reparents to) and runs the runtime. A monitor
therefore never blocks: it asks the host to run `runtime ARGS` and continues
in the callback when that child exits.

Two modes (`"mode"` in the config):
  container (default) — the container's init, as below;
  exec — one `runtime exec --detach` process in a running container: nothing
    happens until {"op": "start"}; then the exec'd process (reparented to the
    host, the subreaper) is relayed the same way; no log, no delete/unmount.
With `"tty": true` the process gets a pty (`--console-socket`, see `console.py`):
its master is relayed raw as STDOUT frames, input goes to it, and
{"op": "resize"} sets its window size.

Life cycle:
  daemon → host: config path → Monitor: listen on its socket → `runtime create`
    with pipes as stdio → the host answers {"ok": true, "pid": N} for it
  daemon connects, sends {"op": "start"} → `runtime start` → {"event": "started"}
  output relayed and logged; signals delivered on {"op": "kill"}
  init exits, pipes drained → exit.json → unmount → {"event": "exit"}
    → `runtime delete` → the socket closes and the host forgets the monitor
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import selectors
import signal
import socket
import time
import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from dockyard.fsutil import write_atomic
from dockyard.monitor import console, jsonlog, logdrivers, oom, protocol, relay
from dockyard.monitor.relay import Client
from dockyard.monitor.runtimeout import read_nonblocking, runtime_error
from dockyard.monitor.sockets import accept, unix_listener
from dockyard.mountflags import MNT_DETACH
from dockyard.proto import stdcopy

if TYPE_CHECKING:
    from dockyard.monitor.host import Host

_READ = 1 << 20  # bytes per read of the container's output; its pipes hold as much
F_SETPIPE_SZ = 1031
DRAIN_AFTER_EXIT = 2.0
CONTAINER_START_WAIT = 30.0
EXEC_START_WAIT = 60.0


class Monitor:
    def __init__(self, host: Host, cfg: dict[str, Any]) -> None:
        self.host = host
        self.sel = host.sel
        self.cfg = cfg
        self.id: str = cfg["id"]
        self.exec_mode = cfg.get("mode") == "exec"
        self.tty = bool(cfg.get("tty"))
        self.master: int | None = None
        self.born = time.monotonic()
        self.killed_unstarted = False
        self.runtime: list[str] = [cfg["runtime"], *cfg.get("runtime_args", [])]
        # Our own runtime runs in a forked child of the host instead of a fresh
        # interpreter (3 starts per container); its argv without the program.
        self.runtime_inproc: list[str] | None = cfg.get("runtime_inproc")
        self.rlog = os.path.join(cfg["bundle"], "runtime.log")
        self.links = relay.Links(self.sel, self, self.pause_output)
        self.listener: socket.socket | None = None
        self.pid = 0
        self.exit_status: int | None = None
        self.exited_at = 0.0
        self.finished_at = ""
        self.started = False
        self.starting = False  # `runtime start`/`exec` runs: its word comes before "exit"
        self.finishing = False
        self.stdin_w: int | None = None
        self.stdin_buf = bytearray()
        self.stdin_closing = False
        self.stdin_done = False
        self.outputs: dict[int, tuple[str, jsonlog.LineSplitter]] = {}
        self.log: logdrivers.Log | None = logdrivers.open_log(cfg, self.warn)

    def warn(self, text: str) -> None:
        """A line in the bundle's monitor.log (the host's own log is shared)."""
        try:
            with open(os.path.join(self.cfg["bundle"], "monitor.log"), "a") as f:
                f.write(f"{jsonlog.rfc3339_nano()} {text}\n")
        except OSError:
            pass

    def failed(self, where: str) -> None:
        """A bug in this monitor's code must not take the host's others down."""
        self.warn(f"{where}: {traceback.format_exc()}")

    # ---- set-up -------------------------------------------------------------------
    def listen(self) -> None:
        listener = unix_listener(self.cfg["socket"], 8)
        self.sel.register(listener, selectors.EVENT_READ, (self, "accept", None))
        self.listener = listener

    def create(self, reply: Callable[[dict[str, Any]], None]) -> None:
        """`runtime create`; `reply` gets the ready message when it is done."""
        me = {"monitor_pid": os.getpid()}
        if self.exec_mode:
            reply({"ok": True, "pid": 0, **me})
            return
        cfg = self.cfg
        pidfile = os.path.join(cfg["bundle"], "init.pid")

        def created(err: str | None) -> None:
            if err is not None:
                reply({"ok": False, "error": err})
                self.cleanup()
                return
            reply({"ok": True, "pid": self.pid, **me})
            with open(os.path.join(cfg["bundle"], "monitor.pid"), "w") as f:
                f.write(str(os.getpid()))

        self.run_runtime(
            ["create", "--bundle", cfg["bundle"], "--pid-file", pidfile], pidfile, created
        )

    def run_runtime(
        self, args: list[str], pidfile: str, done: Callable[[str | None], None]
    ) -> None:
        """`runtime ARGS... ID` with the process's stdio (pipes or a pty) wired to
        the monitor; sets self.pid; `done` gets the runtime's error, or None."""
        cfg = self.cfg
        csock = None
        if self.tty:
            # Beside the monitor's own socket: bundle paths can pass AF_UNIX's 108 bytes.
            csock = console.ConsoleSocket(cfg["socket"] + ".tty")
            args = [*args, "--console-socket", csock.path]
            in_r, in_w = os.open(os.devnull, os.O_RDONLY), None
            out_r, out_w = None, os.open(os.devnull, os.O_WRONLY)
        else:
            out_r, out_w = os.pipe()
            if cfg.get("stdin"):
                in_r, in_w = os.pipe()
            else:
                in_r, in_w = os.open(os.devnull, os.O_RDONLY), None
        err_r, err_w = os.pipe()

        def exited(code: int) -> None:
            nonlocal out_r, err_r, in_w
            try:
                if code != 0:
                    stderr_text = read_nonblocking(err_r)
                    for fd in (out_r, in_w):
                        if fd is not None:
                            os.close(fd)
                    done(runtime_error(self.rlog, stderr_text))
                    return
                try:
                    with open(pidfile) as f:
                        self.pid = int(f.read().strip())
                    if csock is not None:
                        os.close(err_r)
                        self.master = csock.receive()
                        out_r, err_r = self.master, None  # type: ignore[assignment]
                        if cfg.get("stdin"):
                            in_w = os.dup(self.master)
                except (OSError, ValueError) as exc:
                    done(f"monitor: {exc}")
                    return
            finally:
                if csock is not None:
                    csock.close()
            self.host.track(self.pid, self)
            self.stdin_w = in_w
            if in_w is not None:
                os.set_blocking(in_w, False)
                self.flush_stdin()  # what came before the process did
            for fd, name in ((out_r, "stdout"), (err_r, "stderr")):
                if fd is None:
                    continue
                os.set_blocking(fd, False)
                with contextlib.suppress(OSError):  # fewer, larger reads (a pty has no size)
                    fcntl.fcntl(fd, F_SETPIPE_SZ, _READ)
                self.outputs[fd] = (name, jsonlog.LineSplitter())
                if not self.links.paused:
                    self.sel.register(fd, selectors.EVENT_READ, (self, "output", fd))
            done(None)

        try:
            self.call_runtime(
                ["--log", self.rlog, "--log-format", "json", *args, self.id],
                exited, in_r, out_w, err_w,
            )  # fmt: skip
        finally:
            os.close(in_r)
            os.close(out_w)
            os.close(err_w)

    def call_runtime(
        self,
        args: list[str],
        done: Callable[[int], None] | None = None,
        stdin: int | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
    ) -> None:
        """Run `runtime ARGS` with these fds as its stdio (/dev/null where None);
        `done` gets its exit code. Its children stay the host's, so the init
        reparents to it."""
        self.host.spawn(
            self, self.runtime, self.runtime_inproc, args, (stdin, stdout, stderr), done
        )

    # ---- clients ------------------------------------------------------------------
    def accept(self) -> None:
        assert self.listener is not None
        sock = accept(self.listener)
        if sock is not None:
            self.links.add(sock)

    def send(self, data: bytes, only: Client | None = None) -> None:
        self.links.send(data, only)

    def on_client(self, c: Client, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self.links.flush(c)
        if not mask & selectors.EVENT_READ or c not in self.links.clients:
            return
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.links.drop(c)
            return
        c.decoder.feed(data)
        try:
            frames = list(c.decoder)
        except ValueError:
            self.links.drop(c)
            return
        for frame in frames:
            if frame.stream == stdcopy.STDIN:
                self.write_stdin(frame.data)
            elif frame.stream == stdcopy.CONTROL:
                self.on_control(c, protocol.parse_control(frame.data))
        if len(self.stdin_buf) > relay.HIGH:
            self.links.stop_reading(c)  # (the daemon's input link: control has its own)

    def on_control(self, c: Client, msg: dict[str, Any]) -> None:
        op = msg.get("op")
        if op == "start":
            self.start(c)
        elif op == "kill":
            if self.exit_status is None and self.pid:
                try:
                    os.kill(self.pid, int(msg.get("signal", signal.SIGTERM)))
                except ProcessLookupError:
                    pass
                self.thaw_if_frozen()
        elif op == "output":  # whether this link wants the output (relay.py)
            on = bool(msg.get("on", True))
            self.links.want_output(c, on)
            if on:  # what came before is in the log: a follower re-reads it now
                self.send(protocol.control({"event": "output"}), only=c)
        elif op == "close_stdin":
            self.close_stdin()  # after what is buffered
        elif op == "status":
            self.send(protocol.control(self.status()), only=c)
        elif op == "resize":
            if self.master is not None:
                try:
                    console.resize(self.master, int(msg.get("h", 0)), int(msg.get("w", 0)))
                except (OSError, ValueError) as exc:
                    self.warn(f"resize: {exc}")

    def thaw_if_frozen(self) -> None:
        """A frozen (paused) container cannot act on a signal, not even SIGKILL
        under cgroup v1: thaw it once signalled, as dockerd does."""
        if self.exec_mode:
            return
        for path, frozen in (
            (f"/sys/fs/cgroup/freezer/dockyard/{self.id}/freezer.state", "FROZEN"),
            (f"/sys/fs/cgroup/dockyard/{self.id}/cgroup.freeze", "1"),
        ):
            try:
                with open(path) as f:
                    state = f.read().strip()
            except OSError:
                continue
            if state == frozen:
                self.call_runtime(["resume", self.id])
            return

    def status(self) -> dict[str, Any]:
        return {
            "event": "status",
            "pid": self.pid,
            "started": self.started,
            "exited": self.exit_status is not None,
        }

    def start(self, c: Client) -> None:
        if self.started:
            self.send(protocol.control({"event": "started", "pid": self.pid}), only=c)
            return
        self.started = True  # no second start, whatever comes of this one
        self.starting = True
        if self.exec_mode:
            self.start_exec(c)
            return
        err_r, err_w = os.pipe()

        def exited(code: int) -> None:
            self.starting = False
            stderr_text = read_nonblocking(err_r)
            if code != 0:
                err = runtime_error(self.rlog, stderr_text)
                self.send(protocol.control({"event": "error", "message": err}), only=c)
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return
            self.send(protocol.control({"event": "started", "pid": self.pid}))

        try:
            self.call_runtime(
                ["--log", self.rlog, "--log-format", "json", "start", self.id], exited, stderr=err_w
            )
        finally:
            os.close(err_w)

    def start_exec(self, c: Client) -> None:
        pidfile = os.path.join(self.cfg["bundle"], "exec.pid")
        args = ["exec", "--process", self.cfg["process"], "--detach", "--pid-file", pidfile]

        def ran(err: str | None) -> None:
            self.starting = False
            if err is not None:
                self.send(protocol.control({"event": "error", "message": err}), only=c)
                # Nothing runs: finish with dockerd's status for a failed exec.
                self.on_exit(126 << 8)
                return
            self.send(protocol.control({"event": "started", "pid": self.pid}))

        try:
            self.run_runtime(args, pidfile, ran)
        except OSError as exc:
            ran(f"exec failed: {exc}")

    # ---- process stdio ---------------------------------------------------------
    def write_stdin(self, data: bytes) -> None:
        # Input may come before the process exists (an exec's runtime is still
        # running): it is held until then.
        if not self.cfg.get("stdin") or self.stdin_done:
            return
        self.stdin_buf += data
        self.flush_stdin()

    def flush_stdin(self) -> None:
        fd = self.stdin_w
        if fd is None:
            return
        while self.stdin_buf:
            try:
                n = os.write(fd, self.stdin_buf)
            except BlockingIOError:
                break
            except OSError:
                self.stdin_buf.clear()
                self.close_stdin()
                self.links.read_again()
                return
            del self.stdin_buf[:n]
        if len(self.stdin_buf) < relay.LOW:
            self.links.read_again()
        want = selectors.EVENT_WRITE if self.stdin_buf else 0
        key = self.sel.get_map().get(fd)
        if want and key is None:
            self.sel.register(fd, want, (self, "stdin", fd))
        elif not want and key is not None:
            self.sel.unregister(fd)
        if not self.stdin_buf and self.stdin_closing:
            self.close_stdin()

    def close_stdin(self) -> None:
        if self.stdin_w is None or self.stdin_buf:
            self.stdin_closing = True  # once the process is there and its input written
            return
        if self.sel.get_map().get(self.stdin_w) is not None:
            self.sel.unregister(self.stdin_w)
        os.close(self.stdin_w)
        self.stdin_w = None
        self.stdin_done = True

    def on_output(self, fd: int) -> None:
        if fd not in self.outputs:
            return  # closed by an earlier event of the same select batch (finish)
        name, splitter = self.outputs[fd]
        try:
            data = os.read(fd, _READ)
        except BlockingIOError:
            return
        except OSError:  # EIO: a pty whose every slave is closed
            data = b""
        if not data:
            rest = splitter.flush()
            if rest:
                self.write_log(name, [rest])
            self.close_output(fd)
            return
        stream = stdcopy.STDOUT if name == "stdout" else stdcopy.STDERR
        self.links.send_output(stdcopy.encode(stream, data))
        if self.log is not None:
            self.write_log(name, splitter.feed(data))

    def write_log(self, name: str, runs: Iterable[bytes]) -> None:
        if self.log is None:
            return
        try:
            for run in runs:
                self.log.write_run(name, run)
        except OSError as exc:  # (a full disk): output still reaches attached clients
            self.warn(f"log: {exc}; logging stops")
            self.log = None

    def pause_output(self, paused: bool) -> None:
        """Stop (or go on) reading the container's output: a link is full (relay.py)."""
        for fd in self.outputs:
            registered = fd in self.sel.get_map()
            if paused and registered:
                self.sel.unregister(fd)
            elif not paused and not registered:
                self.sel.register(fd, selectors.EVENT_READ, (self, "output", fd))

    def close_output(self, fd: int) -> None:
        if fd in self.sel.get_map():
            self.sel.unregister(fd)
        os.close(fd)
        del self.outputs[fd]
        if fd == self.master:
            self.master = None

    # ---- exit -------------------------------------------------------------------
    def on_exit(self, status: int) -> None:
        """The host reaped our process (or a failed exec ends it)."""
        if self.exit_status is None:
            self.exit_status = status
            self.exited_at = time.monotonic()
            self.finished_at = jsonlog.rfc3339_nano()

    def tick(self, now: float) -> float | None:
        """Timers: finish once the output is drained (or after a grace period), give
        up on a start that never comes. The next time to be called, or None."""
        if self.finishing:
            return None
        if self.exit_status is not None:
            if self.starting:
                return None  # the callback comes first; ticks follow every event
            if not self.outputs or now - self.exited_at > DRAIN_AFTER_EXIT:
                self.finish()
                return None
            return self.exited_at + DRAIN_AFTER_EXIT
        if self.exec_mode and not self.started:
            # An exec whose daemon never came to start it must not linger.
            if now - self.born > EXEC_START_WAIT:
                self.on_exit(0)
                self.finish()
                return None
            return self.born + EXEC_START_WAIT
        if not self.started and self.pid and not self.killed_unstarted:
            # A container the daemon never started (it died between spawning us and
            # `start`, before it recorded anything) must not wait forever: its init
            # is killed and the usual exit path records it and cleans up.
            if now - self.born > CONTAINER_START_WAIT:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.killed_unstarted = True
                return None
            return self.born + CONTAINER_START_WAIT
        return None

    def finish(self) -> None:
        self.finishing = True
        for fd in list(self.outputs):
            self.close_output(fd)
        self.stdin_buf.clear()
        self.close_stdin()
        status = self.exit_status or 0
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            code = 128 + sig
        else:
            sig = 0
            code = os.WEXITSTATUS(status)
        result = {"exit_code": code, "signal": sig, "finished_at": self.finished_at, "error": ""}
        if not self.exec_mode:  # the cgroups are still there: `runtime delete` comes next
            result["oom_killed"] = oom.oom_killed(self.cfg["bundle"], self.id)
        try:
            if self.cfg.get("exit_file"):
                write_atomic(self.cfg["exit_file"], json.dumps(result).encode(), durable=False)
            if self.log is not None:
                self.log.close()
            # Unmount before telling anyone: once the daemon hears "exit" it may
            # remove the snapshot under the rootfs.
            self.unmount_rootfs()
            self.send(protocol.control({"event": "exit", **result}))
        except Exception:
            self.failed("finish")  # (a full disk): the daemon still hears, below
        # The links end (EOF) only once `runtime delete` is done and the socket
        # is gone (`close`): the daemon acts on an exit at the end of the link, so
        # a restart's new monitor for this id never races our delete or unlink.
        self.cleanup()

    def unmount_rootfs(self) -> None:
        if self.exec_mode:
            return
        rootfs = self.cfg.get("rootfs")
        libc = ctypes.CDLL(None, use_errno=True)
        if rootfs and libc.umount2(rootfs.encode(), MNT_DETACH) != 0:
            err = ctypes.get_errno()
            if err not in (errno.EINVAL, errno.ENOENT):
                self.warn(f"umount {rootfs}: {os.strerror(err)}")

    def cleanup(self) -> None:
        """`runtime delete` (containers), then unmount, close and leave the host."""
        self.finishing = True
        if self.exec_mode:
            self.close()
            return

        def deleted(_code: int) -> None:
            self.unmount_rootfs()
            self.close()

        self.call_runtime(["delete", "--force", self.id], deleted)

    def close(self) -> None:
        if self.listener is not None:
            self.sel.unregister(self.listener)
            self.listener.close()
            self.listener = None
            try:
                os.unlink(self.cfg["socket"])
            except FileNotFoundError:
                pass
        self.links.close()
        for fd in list(self.outputs):
            self.close_output(fd)
        self.host.forget(self)

    # ---- events from the host ----------------------------------------------------
    def on_event(self, kind: str, obj: Any, mask: int) -> None:
        if kind == "output":
            self.on_output(obj)
        elif kind == "client":
            self.on_client(obj, mask)
        elif kind == "accept":
            self.accept()
        elif kind == "stdin":
            self.flush_stdin()
