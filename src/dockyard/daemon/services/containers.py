"""The container service: Docker's container life cycle over monitors and a runtime.

It owns the life cycle's decisions (its locks, states and exits) and is the facade
others import; each step with a body of its own lives beside it and is called with
the service: `container_create`, `container_start` (one launch),
`container_remove` (rm, prune), `container_restore` (daemon start, a monitor lost
while away). It composes `container_store` (records and names), `container_link`
(the monitor link), `container_supervision` (restart policy, health checks),
`container_spec` (the OCI spec of a start), `container_teardown` and `task_runtime`
(the one caller of runtimes). Images and snapshots come from the image service.
A container's states:

  create → "created" (snapshot prepared, nothing running)
  start  → rootfs mounted, monitor spawned (runtime create), {"op":"start"} → "running"
  exit   → the monitor reports it, unmounts and deletes the runtime state → "exited"
  rm     → snapshot and directories removed; `removed` waiters released

The daemon never forks into a container: the monitor and runtime are exec'd.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from dockyard.api.errors import Conflict, DockyardError, InvalidParameter, NotModified
from dockyard.daemon.paths import DaemonPaths
from dockyard.daemon.services import container_teardown as teardown
from dockyard.daemon.services import hostconfig, shared_ns
from dockyard.daemon.services.container_config import apply_update
from dockyard.daemon.services.container_create import create_container
from dockyard.daemon.services.container_link import MonitorLink
from dockyard.daemon.services.container_model import (
    Container,
    ImageProvider,
    NetworkAttacher,
    NoNetwork,
    NoVolumes,
    VolumeMounter,
)
from dockyard.daemon.services.container_remove import prune_containers, remove_container
from dockyard.daemon.services.container_restore import exited_while_away, restore
from dockyard.daemon.services.container_start import launch
from dockyard.daemon.services.container_store import ContainerRecords
from dockyard.daemon.services.container_supervision import Supervisor
from dockyard.daemon.services.events import EventBus
from dockyard.daemon.services.logreader import Follow, LogQuery, read_log
from dockyard.daemon.services.monitors import MonitorHosts
from dockyard.daemon.services.outputs import Subscription
from dockyard.daemon.services.runtimes import Runtime, Runtimes, runtime_for
from dockyard.daemon.services.signals import parse_signal
from dockyard.daemon.services.spec_inputs import SecurityDefaults
from dockyard.daemon.services.task_runtime import TaskRuntime
from dockyard.monitor import jsonlog

__all__ = ["ContainerService"]

log = logging.getLogger("dockyard.containers")


class ContainerService:
    def __init__(
        self,
        paths: DaemonPaths,
        images: ImageProvider,
        events: EventBus,
        mount_all: Callable[[list[Any], str], None],
        unmount: Callable[[str], None],
        runtime: str,
        runtime_args: list[str] | None = None,
        network: NetworkAttacher | None = None,
        volumes: VolumeMounter | None = None,
        security: SecurityDefaults | None = None,
    ) -> None:
        self.security = security or SecurityDefaults()
        self.network: NetworkAttacher = network or NoNetwork()
        self.volumes: VolumeMounter = volumes or NoVolumes()
        self.paths = paths
        self.images = images
        self.events = events
        self.mount_all = mount_all  # a snapshot's mounts onto a directory (blocking)
        self.unmount = unmount
        self.runtime = runtime
        self.runtime_args = runtime_args if runtime_args is not None else []
        self.records = ContainerRecords(paths, events)
        self.containers = self.records.containers  # by id (the records' own dict)
        self.by_name = self.records.by_name
        self.monitors = MonitorHosts(
            os.path.join(paths.exec_root, "m"),
            os.path.join(os.path.dirname(sys.executable), "dockyard-monitor"),
        )
        self.task_runtime = TaskRuntime(self.monitors)
        self.link = MonitorLink(
            paths,
            self.records,
            self.task_runtime,
            self.on_exit,
            lambda c: exited_while_away(self, c),
        )
        self.supervisor = Supervisor(
            self.records, paths, self.task_runtime, self.runtime_of, self._start,
            lambda c: self._stop(c, None), self._background,
        )  # fmt: skip
        # The runtime's argv (without the program) when it is our own and the
        # monitor may run it in-process; None for runc and other runtimes.
        self.runtime_inproc: list[str] | None = None
        # `--init`: a static reaping init bind-mounted as /sbin/docker-init, as Docker does.
        self.init_binary = shutil.which("tini-static") or shutil.which("docker-init")
        self._tasks: set[asyncio.Task[Any]] = set()
        self.runtime_name = os.path.basename(runtime)  # HostConfig.Runtime (dockerd: "runc")
        self.runtimes: Runtimes | None = None  # the others, by name (main wires them)
        self.log_default: dict[str, Any] = {"Type": "json-file", "Config": {}}  # --log-driver

    @property
    def closing(self) -> bool:
        return self.supervisor.closing

    def runtime_of(self, host_config: dict[str, Any]) -> Runtime:
        return runtime_for(self, host_config)

    def _background(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """A task nobody awaits, held until it ends: the loop keeps only weak
        references, and a task parked on a stream it alone references is
        garbage-collected mid-await (a restart was lost that way)."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- the records, the link (shared with exec, ops, networks) ----------------------
    def get(self, ref: str) -> Container:
        return self.records.get(ref)

    def list(self, all: bool = False, limit: int | None = None) -> list[Container]:
        return self.records.list(all, limit)

    def save(self, c: Container, durable: bool = False) -> None:
        self.records.save(c, durable)

    def attrs(self, c: Container, **extra: str) -> dict[str, str]:
        return self.records.attrs(c, **extra)

    def send(self, c: Container, msg: dict[str, Any]) -> None:
        self.link.send(c, msg)

    def publish(self, c: Container, action: str, **extra: str) -> None:
        self.records.publish(c, action, **extra)

    # ---- restore, create (their own modules) --------------------------------------
    async def restore(self) -> None:
        """Load records; reconnect to monitors of running containers (live restore)."""
        await restore(self)

    def create(self, name: str | None, body: dict[str, Any]) -> tuple[str, list[str]]:
        return create_container(self, name, body)

    # ---- start ------------------------------------------------------------------------
    async def start(self, ref: str) -> None:
        c = self.get(ref)
        async with c.live.lock:
            if c.running:
                raise NotModified("container already started")
            if c.live.removing:
                raise Conflict(f"container {c.id} is marked for removal and cannot be started")
            c.manually_stopped = False
            self.supervisor.cancel_restart(c)
            try:
                await self._start(c)
                self.supervisor.start_health(c)
            except DockyardError as exc:
                c.state["Error"] = exc.message
                for q in c.live.subscribers:  # attach streams end, as dockerd's do
                    q.put_nowait(None)
                if "executable file not found" in exc.message or "no such file" in exc.message:
                    c.state["ExitCode"] = 127
                elif "permission denied" in exc.message:
                    c.state["ExitCode"] = 126
                self.save(c)
                if c.host_config.get("AutoRemove"):
                    # As dockerd: a container that cannot start is removed, which
                    # releases the client's `condition=removed` wait.
                    self._background(self.remove(c.id, force=True))
                raise

    async def _start(self, c: Container) -> None:
        await launch(self, c)

    async def on_exit(self, c: Container, result: dict[str, Any]) -> None:
        code = int(result.get("exit_code", 255))
        await asyncio.to_thread(shared_ns.release_shm, self.paths.shm(c.id))
        # As dockerd: the container is stopped and dies, then its network is let go
        # (die before network disconnect); a start waits for that (the lock).
        async with c.live.lock:
            c.state.update(
                Status="exited",
                Running=False,
                Paused=False,
                Pid=0,
                ExitCode=code,
                OOMKilled=bool(result.get("oom_killed")),
                FinishedAt=result.get("finished_at") or jsonlog.rfc3339_nano(),
            )
            self.save(c)
            if c.state["OOMKilled"]:  # dockerd: the oom event, then die
                self.records.publish(c, "oom")
            self.records.publish(c, "die", exitCode=str(code))
            try:
                await self.network.detach(c)
            except Exception:
                log.exception("network detach of %s failed", c.id[:12])
        for q in c.live.subscribers:
            q.put_nowait(None)
        c.live.output.set()
        c.live.exited.set()
        waiters, c.live.waiters = c.live.waiters, []
        for condition, fut in waiters:
            if condition == "removed":
                c.live.waiters.append((condition, fut))
            elif not fut.done():
                fut.set_result({"StatusCode": code, "Error": None})
        self.supervisor.stop_health(c)
        if self.supervisor.should_restart(c, code):
            self.supervisor.schedule_restart(c)
            return
        if c.host_config.get("AutoRemove") and not c.live.removing:
            try:
                await self.remove(c.id, force=False, volumes=True)
            except DockyardError as exc:
                log.warning("auto-remove of %s failed: %s", c.id[:12], exc.message)

    # ---- wait, stop, kill ------------------------------------------------------------
    async def wait(self, ref: str, condition: str = "not-running") -> dict[str, Any]:
        c = self.get(ref)
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidParameter(f"invalid condition: {condition!r}")
        if condition == "not-running" and not c.running:
            return {"StatusCode": c.state.get("ExitCode", 0), "Error": None}
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        c.live.waiters.append((condition, fut))
        return await fut

    async def kill(self, ref: str, sig: str | int | None = None) -> None:
        c = self.get(ref)
        signum = parse_signal(sig, signal.SIGKILL)
        if not c.running:
            raise Conflict(f"Cannot kill container: {ref}: Container {c.id} is not running")
        c.manually_stopped = True
        self.save(c)
        self.send(c, {"op": "kill", "signal": signum})
        self.records.publish(c, "kill", signal=str(signum))
        if signum == signal.SIGKILL:
            await c.live.exited.wait()

    async def stop(self, ref: str, timeout: int | None = None, sig: str | None = None) -> None:
        c = self.get(ref)
        # Marked first: a restart in flight checks the mark when it is done.
        c.manually_stopped = True
        if c.live.restart_task is not None:
            self.supervisor.cancel_restart(c)
            c.state.update(Restarting=False, Status="exited")
            self.save(c)
            return
        self.save(c)
        if c.live.lock.locked():
            # A start in flight (a restart policy's): let it finish, then stop
            # what it started, so that the container is down when we answer.
            async with c.live.lock:
                pass
        if not c.running:
            raise NotModified("container already stopped")
        await self._stop(c, timeout, sig)

    async def _stop(self, c: Container, timeout: int | None, sig: str | None = None) -> None:
        signum = parse_signal(sig or c.config.get("StopSignal"), signal.SIGTERM)
        if timeout is None:
            timeout = c.config.get("StopTimeout")
        if timeout is None:
            timeout = 10
        exited = c.live.exited
        self.send(c, {"op": "kill", "signal": signum})
        if timeout >= 0:
            try:
                await asyncio.wait_for(exited.wait(), timeout)
            except TimeoutError:
                pass
            else:
                self.records.publish(c, "stop")
                return
        self.send(c, {"op": "kill", "signal": int(signal.SIGKILL)})
        self.records.publish(c, "kill", signal="9")
        await exited.wait()
        self.records.publish(c, "stop")

    async def restart(self, ref: str, timeout: int | None = None) -> None:
        c = self.get(ref)
        if c.running:
            await self._stop(c, timeout)
        await self.start(c.id)
        self.records.publish(c, "restart")

    async def update(self, ref: str, body: dict[str, Any]) -> list[str]:
        """`docker update`: the restart policy, and resources — applied to a running
        container's cgroups through the runtime's `update`, as dockerd does."""
        c = self.get(ref)
        merged, warnings = apply_update(c.host_config, body)
        if merged is not None:
            if c.running:
                await self.task_runtime.update(
                    self.runtime_of(c.host_config), c.id, hostconfig.resources(merged)
                )
            c.host_config = merged
        self.save(c)
        self.records.publish(c, "update")
        return warnings

    async def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        return await prune_containers(self, filters)

    # ---- remove ------------------------------------------------------------------------
    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        await remove_container(self, ref, force, volumes)

    def unmount_container(self, cid: str) -> None:
        teardown.unmount_container(self.paths, self.unmount, cid)

    # ---- attach and logs ----------------------------------------------------------------
    def subscribe(self, c: Container) -> Subscription:
        return c.live.subscribers.subscribe()

    def unsubscribe(self, c: Container, q: Subscription) -> None:
        c.live.subscribers.unsubscribe(q)

    async def send_stdin(self, c: Container, data: bytes) -> None:
        await c.live.stdin.send(data)  # waits while the container does not read

    async def close_stdin(self, c: Container) -> None:
        await c.live.stdin.close_stdin()  # after the input it ends

    async def logs(
        self,
        ref: str,
        *,
        stdout: bool,
        stderr: bool,
        follow: bool = False,
        since: float = 0,
        until: float = 0,
        timestamps: bool = False,
        tail: int | None = None,
    ) -> AsyncIterator[tuple[int, bytes]]:
        c = self.get(ref)
        if (c.host_config.get("LogConfig") or {}).get("Type") == "none":
            raise InvalidParameter("configured logging driver does not support reading")
        query = LogQuery(
            stdout, stderr, int(since * 1e9), int(until * 1e9) if until else 0, timestamps, tail
        )
        follower = Follow(
            lambda: c.live.output,
            lambda: c.running and c.id in self.containers and not self.closing,
            c.live.subscribers.following,  # the monitor says when output comes
        )
        async for out in read_log(self.paths.log(c.id), query, follower if follow else None):
            yield out

    async def shutdown(self) -> None:
        """Let go of every container without stopping it (live restore): end
        attach streams and waits, close the monitor links."""
        self.supervisor.closing = True
        for c in self.containers.values():
            for q in c.live.subscribers:
                q.put_nowait(None)
            for _, fut in c.live.waiters:
                if not fut.done():
                    fut.cancel()
            c.live.waiters = []
            task = c.live.reader_task
            if task is not None and not task.done():
                task.cancel()
        tasks = [c.live.reader_task for c in self.containers.values() if c.live.reader_task]
        await asyncio.gather(*tasks, return_exceptions=True)
