"""The daemon's link to each running container's monitor: one Unix-socket
connection, control messages out (`send`), control messages and output frames
in (`monitor/protocol.py`). The link records "running" when the monitor says the
process started, fans output out to attach subscribers and hands the exit (or
the monitor's loss) to the life cycle through two callbacks, so that it never
decides what an exit means.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from dockyard.daemon.paths import DaemonPaths
from dockyard.daemon.services.container_model import ZERO_TIME, Container
from dockyard.daemon.services.container_store import ContainerRecords
from dockyard.daemon.services.monitors import output_wanted, read_link
from dockyard.daemon.services.task_runtime import Runtime
from dockyard.monitor import jsonlog, protocol
from dockyard.proto import stdcopy

log = logging.getLogger("dockyard.containers")

OnExit = Callable[[Container, dict[str, Any]], Awaitable[None]]


class MonitorLink:
    def __init__(
        self, paths: DaemonPaths, records: ContainerRecords, runtime: Runtime,
        on_exit: OnExit, on_lost: Callable[[Container], Awaitable[None]],
    ) -> None:  # fmt: skip
        self.paths = paths
        self.runtime = runtime
        self.records = records
        self.on_exit = on_exit  # the monitor reported the exit
        self.on_lost = on_lost  # the link ended without one: the monitor died

    async def connect(self, c: Container) -> None:
        task = await self.runtime.attach(c.id, self.paths.monitor_socket(c.id))
        reader, writer = task.reader, task.writer
        c.live.writer = writer
        c.live.subscribers.link(functools.partial(output_wanted, writer))
        c.live.stdin.linked(self.paths.monitor_socket(c.id))
        c.live.linked.set()
        c.live.reader_task = asyncio.create_task(self._read(c, reader))

    def send(self, c: Container, msg: dict[str, Any]) -> None:
        """A control message to the container's monitor (dropped while unlinked)."""
        if c.live.writer is not None and not c.live.writer.is_closing():
            c.live.writer.write(protocol.control(msg))

    async def _read(self, c: Container, reader: asyncio.StreamReader) -> None:
        exit_result: dict[str, Any] | None = None

        def on_control(msg: dict[str, Any]) -> None:
            nonlocal exit_result
            ev = msg.get("event")
            if ev in ("started", "error"):
                if ev == "started":
                    self._mark_running(c, msg)
                if c.live.started is not None and not c.live.started.done():
                    c.live.started.set_result(msg)
            elif ev == "exit":
                exit_result = msg
            elif ev == "output":  # output is on: what came before it is in the log
                wake_followers()

        def on_output(frame: stdcopy.Frame) -> None:
            c.live.subscribers.publish(frame)
            wake_followers()

        def wake_followers() -> None:
            c.live.output.set()
            c.live.output = asyncio.Event()

        try:
            await read_link(reader, on_control, on_output, c.live.subscribers)
        except (ConnectionError, ValueError) as exc:
            log.warning("monitor link of %s broke: %s", c.id[:12], exc)
        except asyncio.CancelledError:
            if c.live.writer is not None:
                c.live.writer.close()
            c.live.writer = None
            raise
        finally:
            if c.live.writer is not None:
                c.live.writer.close()
            c.live.writer = None
            c.live.subscribers.link(None)
            c.live.stdin.linked(None)
            c.live.linked = asyncio.Event()
            if c.live.started is not None and not c.live.started.done():
                c.live.started.set_result({"event": "error", "message": "monitor went away"})
        if exit_result is None:
            if not c.running:
                return
            # The link ended without an exit: the monitor (its host process) died.
            # Its container must not run on unwatched: the runtime kills what is
            # left and forgets it, as containerd does when a shim dies.
            await asyncio.sleep(0.05)
            await self.on_lost(c)
            return
        await self.on_exit(c, exit_result)

    def _mark_running(self, c: Container, msg: dict[str, Any]) -> None:
        if c.running and c.state.get("Pid") == msg.get("pid"):
            return  # a repeated "started" (a reconnecting client asked again)
        c.live.started_mono = time.monotonic()
        c.state.update(
            Status="running",
            Running=True,
            Restarting=False,
            Pid=msg.get("pid", 0),
            ExitCode=0,
            OOMKilled=False,
            Error="",
            StartedAt=jsonlog.rfc3339_nano(),
            FinishedAt=ZERO_TIME,
        )
        self.records.save(c)
        self.records.publish(c, "start")
