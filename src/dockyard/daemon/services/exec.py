"""The exec service: Docker's exec instances (create, start, inspect, resize).

Each started exec gets its own monitor in exec mode (`dockyard-monitor`,
`"mode": "exec"`): the monitor runs `runtime exec --process --detach` and holds
the process's pipes or pty, so the daemon never does; it talks to the monitor
over the same framed protocol as a container's (`monitor/protocol.py`).
The process is the container's spec process with the exec's args, env, cwd,
user (resolved against the container's /etc/passwd, like the container's) and,
with --privileged, every capability.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import secrets
import shutil
from dataclasses import dataclass, field
from typing import Any

from dockyard.api.errors import (
    Conflict,
    DockyardError,
    InvalidParameter,
    NotFound,
    SystemError_,
)
from dockyard.daemon.services import ocispec
from dockyard.daemon.services.container_model import Container
from dockyard.daemon.services.containers import ContainerService
from dockyard.daemon.services.monitors import output_wanted, read_link
from dockyard.daemon.services.outputs import Fanout, Subscription
from dockyard.daemon.services.signals import parse_signal
from dockyard.daemon.services.spec_host import known_capabilities, read_in_root
from dockyard.daemon.services.stdin import StdinLink
from dockyard.monitor import protocol
from dockyard.monitor.config import MonitorConfig
from dockyard.proto.envvars import replace_or_append_env

log = logging.getLogger("dockyard.exec")


class NoSuchExec(NotFound):
    def __init__(self, exec_id: str) -> None:
        super().__init__(f"No such exec instance: {exec_id}")


@dataclass
class Exec:
    id: str
    container: Container
    config: dict[str, Any]
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    writer: asyncio.StreamWriter | None = None
    reader_task: asyncio.Task[None] | None = None
    subscribers: Fanout = field(default_factory=Fanout)
    stdin: StdinLink = field(default_factory=StdinLink)
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    linked: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def tty(self) -> bool:
        return bool(self.config.get("Tty"))

    def inspect(self) -> dict[str, Any]:
        cmd = self.config.get("Cmd") or []
        user = self.config.get("User") or ""
        return {
            "ID": self.id,
            "Running": self.running,
            "ExitCode": self.exit_code,
            "ProcessConfig": {
                "tty": self.tty,
                "entrypoint": cmd[0] if cmd else "",
                "arguments": cmd[1:],
                "privileged": bool(self.config.get("Privileged")),
                **({"user": user} if user else {}),
            },
            "OpenStdin": bool(self.config.get("AttachStdin")),
            "OpenStderr": bool(self.config.get("AttachStderr")),
            "OpenStdout": bool(self.config.get("AttachStdout")),
            "CanRemove": False,
            "ContainerID": self.container.id,
            "DetachKeys": self.config.get("DetachKeys") or "",
            "Pid": self.pid,
        }


def exec_process(
    base: dict[str, Any], cfg: dict[str, Any], passwd: str, group: str
) -> dict[str, Any]:
    """The OCI process of an exec: the container's process edited (pure)."""
    proc = json.loads(json.dumps(base))
    proc["args"] = list(cfg["Cmd"])
    proc["terminal"] = bool(cfg.get("Tty"))
    env = list(proc.get("env") or [])
    if cfg.get("Tty") and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")
    for item in cfg.get("Env") or []:
        env = replace_or_append_env(env, item)
    proc["env"] = env
    if cfg.get("WorkingDir"):
        proc["cwd"] = cfg["WorkingDir"]
    if cfg.get("User"):
        u = ocispec.resolve_user(cfg["User"], passwd, group)
        proc["user"] = {"uid": u.uid, "gid": u.gid, "additionalGids": u.additional_gids}
    if cfg.get("Privileged"):
        caps = known_capabilities()
        proc["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
    proc.pop("consoleSize", None)
    if cfg.get("ConsoleSize"):
        h, w = cfg["ConsoleSize"][:2]
        if h and w:
            proc["consoleSize"] = {"height": int(h), "width": int(w)}
    return proc


class ExecService:
    def __init__(self, containers: ContainerService) -> None:
        self.containers = containers
        self.execs: dict[str, Exec] = {}

    def get(self, exec_id: str) -> Exec:
        e = self.execs.get(exec_id)
        if e is None:
            raise NoSuchExec(exec_id)
        return e

    def _check_running(self, c: Container, ref: str) -> None:
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        if c.state.get("Paused"):
            raise Conflict(f"Container {ref} is paused, unpause the container before exec")

    def create(self, ref: str, body: dict[str, Any]) -> str:
        c = self.containers.get(ref)
        if not isinstance(body, dict):
            raise InvalidParameter("invalid exec config")
        self._check_running(c, ref)
        if not body.get("Cmd"):
            raise InvalidParameter("No exec command specified")
        eid = secrets.token_hex(32)
        self.execs[eid] = Exec(eid, c, body)
        self._forget_old(c)
        self.containers.events.publish(
            "container",
            f"exec_create: {' '.join(body['Cmd'])}",
            c.id,
            self.containers.attrs(c, execID=eid),
        )
        return eid

    def _forget_old(self, c: Container) -> None:
        """Keep at most 64 finished execs per container (dockerd keeps them until
        the container goes; a bound keeps a long-lived daemon small)."""
        done = [e for e in self.execs.values() if e.container is c and e.exit_code is not None]
        for e in done[:-64]:
            self.execs.pop(e.id, None)
        live = self.containers.containers
        for e in [e for e in self.execs.values() if live.get(e.container.id) is not e.container]:
            self.execs.pop(e.id, None)  # its container was removed

    def exec_ids(self, c: Container) -> list[str] | None:
        ids = [e.id for e in self.execs.values() if e.container is c and e.running]
        return ids or None

    def _state_dir(self, e: Exec) -> str:
        return os.path.join(self.containers.paths.bundle(e.container.id), "exec", e.id[:32])

    async def start(self, exec_id: str) -> Exec:
        """Spawn the exec's monitor and start the process; output flows to subscribers."""
        e = self.get(exec_id)
        if e.running:
            raise Conflict(f"Error: Exec command {e.id} is already running")
        if e.started:
            raise Conflict(f"Error: Exec command {e.id} has already run")
        c = e.container
        self._check_running(c, c.name.lstrip("/"))
        e.started = True
        svc = self.containers
        state_dir = self._state_dir(e)
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        try:
            with open(os.path.join(svc.paths.bundle(c.id), "config.json")) as f:
                base = json.load(f)["process"]
            rootfs = svc.paths.rootfs(c.id)
            proc = exec_process(
                base,
                e.config,
                read_in_root(rootfs, "etc/passwd"),
                read_in_root(rootfs, "etc/group"),
            )
            process_path = os.path.join(state_dir, "process.json")
            with open(process_path, "w") as f:
                json.dump(proc, f)
            sock = os.path.join(svc.paths.sockets_root, "x" + e.id[:31])
            rt = svc.runtime_of(c.host_config)
            config = MonitorConfig(
                mode="exec", id=c.id, bundle=state_dir, process=process_path, socket=sock,
                runtime=rt.argv[0], runtime_args=rt.argv[1:], runtime_inproc=rt.inproc,
                stdin=bool(e.config.get("AttachStdin")), tty=e.tty,
            )  # fmt: skip
            await svc.task_runtime.create(config, os.path.join(state_dir, "monitor.json"))
            task = await svc.task_runtime.attach(c.id, sock)
            reader, writer = task.reader, task.writer
        except BaseException:
            e.exit_code = 126
            e.exited.set()
            shutil.rmtree(state_dir, ignore_errors=True)
            raise
        e.writer = writer
        e.subscribers.link(functools.partial(output_wanted, writer))  # before "start"
        e.stdin.linked(sock)
        started: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        e.reader_task = asyncio.create_task(self._read_monitor(e, reader, started))
        writer.write(protocol.control({"op": "start"}))
        e.running = True
        e.linked.set()
        result = await started
        if result.get("event") == "error":
            await e.exited.wait()
            msg = result.get("message", "")
            raise _exec_error(msg)
        e.pid = int(result.get("pid") or 0)
        svc.events.publish(
            "container",
            f"exec_start: {' '.join(e.config['Cmd'])}",
            c.id,
            svc.attrs(c, execID=e.id),
        )
        return e

    async def _read_monitor(
        self, e: Exec, reader: asyncio.StreamReader, started: asyncio.Future[dict[str, Any]]
    ) -> None:
        result: dict[str, Any] | None = None

        def on_control(msg: dict[str, Any]) -> None:
            nonlocal result
            ev = msg.get("event")
            if ev in ("started", "error") and not started.done():
                started.set_result(msg)
            elif ev == "exit":
                result = msg

        try:
            await read_link(reader, on_control, e.subscribers.publish, e.subscribers)
        except (ConnectionError, ValueError) as exc:
            log.warning("exec monitor link of %s broke: %s", e.id[:12], exc)
        finally:
            if e.writer is not None:
                e.writer.close()
            e.writer = None
            e.subscribers.link(None)
            e.stdin.linked(None)
            if not started.done():
                started.set_result({"event": "error", "message": "exec monitor went away"})
            e.running = False
            e.exit_code = int((result or {}).get("exit_code", 126 if result is None else 0))
            for q in e.subscribers:
                q.put_nowait(None)
            e.exited.set()
            shutil.rmtree(self._state_dir(e), ignore_errors=True)
            c = e.container
            self.containers.events.publish(
                "container",
                "exec_die",
                c.id,
                self.containers.attrs(c, execID=e.id, exitCode=str(e.exit_code)),
            )

    def subscribe(self, e: Exec) -> Subscription:
        return e.subscribers.subscribe()

    def unsubscribe(self, e: Exec, q: Subscription) -> None:
        e.subscribers.unsubscribe(q)

    def _send(self, e: Exec, data: bytes) -> None:
        if e.writer is not None and not e.writer.is_closing():
            e.writer.write(data)

    async def send_stdin(self, e: Exec, data: bytes) -> None:
        await e.stdin.send(data)  # waits while the process does not read

    async def close_stdin(self, e: Exec) -> None:
        await e.stdin.close_stdin()  # after the input it ends

    def kill(self, e: Exec, sig: str | int | None = None) -> None:
        self._send(e, protocol.control({"op": "kill", "signal": parse_signal(sig, 15)}))

    def resize(self, exec_id: str, h: int, w: int) -> None:
        e = self.get(exec_id)
        if not e.running:
            raise Conflict(f"Exec {exec_id} is not running")
        self._send(e, protocol.control({"op": "resize", "h": h, "w": w}))

    async def shutdown(self) -> None:
        tasks = [e.reader_task for e in self.execs.values() if e.reader_task]
        for t in tasks:
            t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)


def _exec_error(msg: str) -> DockyardError:
    text = f"OCI runtime exec failed: {msg}: unknown"
    if "not found" in msg or "no such file" in msg:
        return InvalidParameter(text)
    return SystemError_(text)
