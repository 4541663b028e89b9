"""The per-container monitor (the shim): `dockyard-monitor CONFIG.json`.

It outlives the daemon. It is the subreaper and parent of the container's
init, holds the container's stdio pipes, writes the json-file log, relays
output to the daemon over `monitor.sock`, records the exit status on disk
(`exit.json`) and cleans up: `runtime delete`, then unmounts the rootfs.
The wire protocol is in `protocol.py`.

It is single-threaded with `selectors` (asyncio's import and loop cost more
than this small job needs, and the monitor is per container).

Two modes (`"mode"` in the config):
  container (default) — the container's init, as below;
  exec — one `runtime exec --detach` process in a running container: nothing
    happens until {"op": "start"}; then the exec'd process (reparented to the
    monitor, the subreaper) is relayed the same way; no log, no delete/unmount.
With `"tty": true` the process gets a pty (`--console-socket`, see `console.py`):
its master is relayed raw as STDOUT frames, input goes to it, and
{"op": "resize"} sets its window size.

Life cycle:
  daemon spawns `dockyard-monitor cfg` ─ fork ─ parent exits at once
    child: subreaper → listen on monitor.sock → `runtime create` with pipes as stdio
      → writes {"ok": true, "pid": N} on the ready pipe (its stdout) and closes it
      → loop: daemon connects, sends {"op": "start"} → `runtime start`
      → output relayed and logged; signals delivered on {"op": "kill"}
      → init exits, pipes drained → exit.json → {"event": "exit"} → delete, unmount, exit
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from dockyard.monitor import console, jsonlog, protocol
from dockyard.proto import stdcopy

PR_SET_CHILD_SUBREAPER = 36
MNT_DETACH = 2
_MAX_CLIENT_BACKLOG = 16 << 20
_DRAIN_AFTER_EXIT = 2.0
_CONTAINER_START_WAIT = 30.0
_EXEC_START_WAIT = 60.0


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def _runtime_error(log_path: str, stderr_text: str) -> str:
    """The last error the runtime logged (runc's JSON log or plain text), else its stderr."""
    msg = ""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                    if obj.get("level") in ("error", "fatal") and obj.get("msg"):
                        msg = obj["msg"]
                except (json.JSONDecodeError, AttributeError):
                    msg = line
    except OSError:
        pass
    return msg or stderr_text.strip() or "runtime failed"


class Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.decoder = stdcopy.FrameDecoder()
        self.out = bytearray()


class Monitor:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.id: str = cfg["id"]
        self.exec_mode = cfg.get("mode") == "exec"
        self.tty = bool(cfg.get("tty"))
        self.master: int | None = None
        self.reaped: dict[int, int] = {}
        self.born = time.monotonic()
        self.killed_unstarted = False
        self.runtime: list[str] = [cfg["runtime"], *cfg.get("runtime_args", [])]
        # Our own runtime runs in a forked child of this process instead of a fresh
        # interpreter (3 starts per container); its argv without the program.
        self.runtime_inproc: list[str] | None = cfg.get("runtime_inproc")
        self.sel = selectors.DefaultSelector()
        self.clients: list[Client] = []
        self.pid = 0
        self.exit_status: int | None = None
        self.exited_at = 0.0
        self.finished_at = ""
        self.started = False
        self.stdin_w: int | None = None
        self.stdin_buf = bytearray()
        self.outputs: dict[int, tuple[str, jsonlog.LineSplitter]] = {}
        self.log = None
        if cfg.get("log_path"):
            self.log = open(cfg["log_path"], "ab", buffering=0)  # noqa: SIM115

    # ---- set-up -------------------------------------------------------------------
    def create(self) -> dict[str, Any]:
        if self.exec_mode:
            return {"ok": True, "pid": 0, "monitor_pid": os.getpid()}
        cfg = self.cfg
        pidfile = os.path.join(cfg["bundle"], "init.pid")
        args = ["create", "--bundle", cfg["bundle"], "--pid-file", pidfile]
        err = self.run_runtime(args, pidfile)
        if err is not None:
            return {"ok": False, "error": err}
        return {"ok": True, "pid": self.pid, "monitor_pid": os.getpid()}

    def run_runtime(self, args: list[str], pidfile: str) -> str | None:
        """`runtime ARGS... ID` with the process's stdio (pipes or a pty) wired to
        the monitor; sets self.pid; the runtime's error on failure."""
        cfg = self.cfg
        rlog = os.path.join(cfg["bundle"], "runtime.log")
        csock = None
        if self.tty:
            # Beside the monitor's own socket: bundle paths can pass AF_UNIX's 108 bytes.
            csock = console.ConsoleSocket(cfg["socket"] + ".tty")
            args = [*args, "--console-socket", csock.path]
            in_r, in_w = os.open(os.devnull, os.O_RDONLY), None
            out_r, out_w = None, os.open(os.devnull, os.O_WRONLY)
            err_r, err_w = os.pipe()
        else:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            if cfg.get("stdin"):
                in_r, in_w = os.pipe()
            else:
                in_r, in_w = os.open(os.devnull, os.O_RDONLY), None
        try:
            code = self.call_runtime(
                ["--log", rlog, "--log-format", "json", *args, self.id], in_r, out_w, err_w
            )
            os.close(in_r)
            os.close(out_w)
            os.close(err_w)
            if code != 0:
                os.set_blocking(err_r, False)
                try:
                    stderr_text = os.read(err_r, 65536).decode("utf-8", "replace")
                except BlockingIOError:
                    stderr_text = ""
                for fd in (out_r, err_r, in_w):
                    if fd is not None:
                        os.close(fd)
                return _runtime_error(rlog, stderr_text)
            with open(pidfile) as f:
                self.pid = int(f.read().strip())
            if csock is not None:
                os.close(err_r)
                self.master = csock.receive()
                out_r, err_r = self.master, None
                if cfg.get("stdin"):
                    in_w = os.dup(self.master)
        finally:
            if csock is not None:
                csock.close()
        self.stdin_w = in_w
        if in_w is not None:
            os.set_blocking(in_w, False)
        for fd, name in ((out_r, "stdout"), (err_r, "stderr")):
            if fd is None:
                continue
            os.set_blocking(fd, False)
            self.outputs[fd] = (name, jsonlog.LineSplitter())
            self.sel.register(fd, selectors.EVENT_READ, ("output", fd))
        return None

    def call_runtime(
        self,
        args: list[str],
        stdin: int | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
    ) -> int:
        """Run `runtime ARGS` with these fds as its stdio (/dev/null where None); its
        exit code. The runtime's children stay ours, so the init reparents to us."""
        if self.runtime_inproc is None:
            dn = subprocess.DEVNULL
            return subprocess.run(
                [*self.runtime, *args], stdin=dn if stdin is None else stdin,
                stdout=dn if stdout is None else stdout, stderr=dn if stderr is None else stderr,
                close_fds=True, check=False,
            ).returncode  # fmt: skip
        null = os.open(os.devnull, os.O_RDWR)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
                    os.dup2(null if fd is None else fd, target)
                os.closerange(3, 1 << 16)
                signal.set_wakeup_fd(-1)
                for sig in (signal.SIGCHLD, signal.SIGPIPE, signal.SIGTERM):
                    signal.signal(sig, signal.SIG_DFL)
                from dockyard.runtime.cli import main as runtime_main

                code = runtime_main([*self.runtime_inproc, *args]) or 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                code = 1
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        os.close(null)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)

    def listen(self) -> None:
        path = self.cfg["socket"]
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        os.chmod(path, 0o600)
        self.listener.listen(8)
        self.listener.setblocking(False)
        self.sel.register(self.listener, selectors.EVENT_READ, ("accept", None))

    # ---- clients ------------------------------------------------------------------
    def send(self, data: bytes, only: Client | None = None) -> None:
        for c in [only] if only else list(self.clients):
            if len(c.out) > _MAX_CLIENT_BACKLOG:
                self.drop(c)
                continue
            c.out += data
            self.flush(c)

    def flush(self, c: Client) -> None:
        while c.out:
            try:
                n = c.sock.send(c.out)
            except BlockingIOError:
                break
            except OSError:
                self.drop(c)
                return
            del c.out[:n]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if c.out else 0)
        self.sel.modify(c.sock, events, ("client", c))

    def drop(self, c: Client) -> None:
        if c in self.clients:
            self.clients.remove(c)
            self.sel.unregister(c.sock)
            c.sock.close()

    def on_client(self, c: Client, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self.flush(c)
        if not mask & selectors.EVENT_READ:
            return
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.drop(c)
            return
        c.decoder.feed(data)
        try:
            frames = list(c.decoder)
        except ValueError:
            self.drop(c)
            return
        for frame in frames:
            if frame.stream == stdcopy.STDIN:
                self.write_stdin(frame.data)
            elif frame.stream == stdcopy.CONTROL:
                self.on_control(c, protocol.parse_control(frame.data))

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
        elif op == "close_stdin":
            self.stdin_buf.clear()
            self.close_stdin()
        elif op == "status":
            self.send(protocol.control(self.status()), only=c)
        elif op == "resize":
            if self.master is not None:
                try:
                    console.resize(self.master, int(msg.get("h", 0)), int(msg.get("w", 0)))
                except (OSError, ValueError) as exc:
                    print(f"resize: {exc}", file=sys.stderr)

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
        if self.exec_mode:
            self.start_exec(c)
            return
        rlog = os.path.join(self.cfg["bundle"], "runtime.log")
        err_r, err_w = os.pipe()
        code = self.call_runtime(
            ["--log", rlog, "--log-format", "json", "start", self.id], stderr=err_w
        )
        os.close(err_w)
        with os.fdopen(err_r, "rb") as f:
            stderr_text = f.read(65536).decode("utf-8", "replace")
        if code != 0:
            err = _runtime_error(rlog, stderr_text)
            self.send(protocol.control({"event": "error", "message": err}), only=c)
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
        self.started = True
        self.send(protocol.control({"event": "started", "pid": self.pid}))

    def start_exec(self, c: Client) -> None:
        pidfile = os.path.join(self.cfg["bundle"], "exec.pid")
        args = ["exec", "--process", self.cfg["process"], "--detach", "--pid-file", pidfile]
        try:
            err = self.run_runtime(args, pidfile)
        except OSError as exc:
            err = f"exec failed: {exc}"
        self.started = True
        if err is not None:
            self.send(protocol.control({"event": "error", "message": err}), only=c)
            # Nothing runs: finish at once with dockerd's status for a failed exec.
            self.exit_status = 126 << 8
            self.exited_at = time.monotonic()
            self.finished_at = jsonlog.rfc3339_nano()
            return
        if self.pid in self.reaped and self.exit_status is None:
            self.exit_status = self.reaped.pop(self.pid)
            self.exited_at = time.monotonic()
            self.finished_at = jsonlog.rfc3339_nano()
        self.send(protocol.control({"event": "started", "pid": self.pid}))

    # ---- container stdio ---------------------------------------------------------
    def write_stdin(self, data: bytes) -> None:
        if self.stdin_w is None:
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
                return
            del self.stdin_buf[:n]
        want = selectors.EVENT_WRITE if self.stdin_buf else 0
        key = self.sel.get_map().get(fd)
        if want and key is None:
            self.sel.register(fd, want, ("stdin", fd))
        elif not want and key is not None:
            self.sel.unregister(fd)
        if not self.stdin_buf and self.cfg.get("_stdin_closing"):
            self.close_stdin()

    def close_stdin(self) -> None:
        if self.stdin_w is None:
            return
        if self.stdin_buf:
            self.cfg["_stdin_closing"] = True
            return
        if self.sel.get_map().get(self.stdin_w) is not None:
            self.sel.unregister(self.stdin_w)
        os.close(self.stdin_w)
        self.stdin_w = None

    def on_output(self, fd: int) -> None:
        name, splitter = self.outputs[fd]
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: a pty whose every slave is closed
            data = b""
        if not data:
            rest = splitter.flush()
            if rest:
                self.emit(name, rest)
            self.sel.unregister(fd)
            os.close(fd)
            del self.outputs[fd]
            if fd == self.master:
                self.master = None
            return
        stream = stdcopy.STDOUT if name == "stdout" else stdcopy.STDERR
        self.send(stdcopy.encode(stream, data))
        if self.log is not None:
            for line in splitter.feed(data):
                self.log.write(jsonlog.entry(name, line))

    def emit(self, name: str, line: bytes) -> None:
        if self.log is not None:
            self.log.write(jsonlog.entry(name, line))

    # ---- exit -------------------------------------------------------------------
    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid and self.pid and self.exit_status is None:
                self.exit_status = status
                self.exited_at = time.monotonic()
                self.finished_at = jsonlog.rfc3339_nano()
            elif self.exec_mode and not self.pid:
                # The exec'd process may end before its pid file is read.
                self.reaped[pid] = status

    def finish(self) -> None:
        status = self.exit_status or 0
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            code = 128 + sig
        else:
            sig = 0
            code = os.WEXITSTATUS(status)
        result = {"exit_code": code, "signal": sig, "finished_at": self.finished_at, "error": ""}
        if self.cfg.get("exit_file"):
            _write_atomic(self.cfg["exit_file"], json.dumps(result).encode())
        # Unmount before telling anyone: once the daemon hears "exit" it may
        # remove the snapshot under the rootfs.
        self.unmount_rootfs()
        self.send(protocol.control({"event": "exit", **result}))
        for c in list(self.clients):
            c.sock.setblocking(True)
            c.sock.settimeout(1.0)
            try:
                c.sock.sendall(bytes(c.out))
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        self.cleanup()
        for c in list(self.clients):
            c.sock.close()

    def unmount_rootfs(self) -> None:
        if self.exec_mode:
            return
        rootfs = self.cfg.get("rootfs")
        if rootfs and _libc().umount2(rootfs.encode(), MNT_DETACH) != 0:
            err = ctypes.get_errno()
            if err not in (errno.EINVAL, errno.ENOENT):
                print(f"umount {rootfs}: {os.strerror(err)}", file=sys.stderr)

    def cleanup(self) -> None:
        if self.exec_mode:
            try:
                os.unlink(self.cfg["socket"])
            except FileNotFoundError:
                pass
            return
        self.call_runtime(["delete", "--force", self.id])
        self.unmount_rootfs()
        try:
            os.unlink(self.cfg["socket"])
        except FileNotFoundError:
            pass

    def loop(self) -> None:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.sel.register(wake_r, selectors.EVENT_READ, ("wake", None))
        self.reap()
        while True:
            if self.exit_status is not None:
                if not self.outputs:
                    break
                if time.monotonic() - self.exited_at > _DRAIN_AFTER_EXIT:
                    break
                timeout: float | None = 0.1
            elif self.exec_mode and not self.started:
                # An exec whose daemon never came to start it must not linger.
                if time.monotonic() - self.born > _EXEC_START_WAIT:
                    break
                timeout = 1.0
            elif not self.started and self.pid:
                # A container the daemon never started (it died between spawning us and
                # `start`, before it recorded anything) must not wait forever: its init
                # is killed and the usual exit path records it and cleans up.
                if time.monotonic() - self.born > _CONTAINER_START_WAIT:
                    try:
                        os.kill(self.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    self.killed_unstarted = True
                timeout = None if self.killed_unstarted else 1.0
            else:
                timeout = None
            for key, mask in self.sel.select(timeout):
                kind, obj = key.data
                if kind == "output":
                    self.on_output(obj)
                elif kind == "client":
                    self.on_client(obj, mask)
                elif kind == "accept":
                    try:
                        sock, _ = self.listener.accept()
                    except BlockingIOError:
                        continue
                    sock.setblocking(False)
                    c = Client(sock)
                    self.clients.append(c)
                    self.sel.register(sock, selectors.EVENT_READ, ("client", c))
                elif kind == "stdin":
                    self.flush_stdin()
                elif kind == "wake":
                    try:
                        while os.read(wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                    self.reap()
        self.finish()


def main() -> None:
    if len(sys.argv) != 2:
        print("usage: dockyard-monitor CONFIG.json", file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    if os.fork():
        os._exit(0)
    ready = os.fdopen(1, "w")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    errlog = os.open(
        os.path.join(cfg["bundle"], "monitor.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
    )
    os.dup2(errlog, 2)
    os.close(errlog)
    _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    mon = Monitor(cfg)
    try:
        mon.listen()
        result = mon.create()
    except Exception as exc:  # the daemon must hear why, whatever happened
        result = {"ok": False, "error": f"monitor: {exc}"}
    ready.write(json.dumps(result) + "\n")
    ready.close()
    os.dup2(devnull, 1)
    if not result["ok"]:
        mon.cleanup()
        sys.exit(1)
    with open(os.path.join(cfg["bundle"], "monitor.pid"), "w") as f:
        f.write(str(os.getpid()))
    mon.loop()


if __name__ == "__main__":
    main()
