"""Supervision of running containers: the restart policy (moby's restart manager:
100 ms doubling to a minute, reset after a run of 10 s) and health checks (the
image's or the flags' HEALTHCHECK run in the container through the runtime's
exec, Docker's state machine starting → healthy/unhealthy). The life cycle calls
in at start and exit; a restart goes back to it through the two callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from dockyard.api.errors import DockyardError
from dockyard.daemon.paths import DaemonPaths
from dockyard.daemon.services.container_model import Container, restart_policy
from dockyard.daemon.services.container_store import ContainerRecords
from dockyard.daemon.services.runtimes import Runtime
from dockyard.daemon.services.task_runtime import TaskRuntime
from dockyard.fsutil import write_json_atomic
from dockyard.monitor import jsonlog

log = logging.getLogger("dockyard.containers")

Step = Callable[[Container], Awaitable[None]]


@dataclass(frozen=True)
class HealthCheck:
    args: list[str]
    interval: float
    timeout: float
    start_period: float
    start_interval: float
    retries: int


def health_config(config: dict[str, Any]) -> HealthCheck | None:
    """The container's health check (image and flags merged), or None when there is none."""
    hc = config.get("Healthcheck") or {}
    test = hc.get("Test") or []
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        args = list(test[1:])
    elif test[0] == "CMD-SHELL":
        args = ["/bin/sh", "-c", " ".join(test[1:])]
    else:
        args = list(test)
    if not args:
        return None

    def secs(key: str, default: float) -> float:
        value = hc.get(key) or 0
        return value / 1e9 if value else default

    return HealthCheck(
        args=args,
        interval=secs("Interval", 30.0),
        timeout=secs("Timeout", 30.0),
        start_period=secs("StartPeriod", 0.0),
        start_interval=secs("StartInterval", 5.0),
        retries=int(hc.get("Retries") or 3),
    )


@dataclass(eq=False)
class Supervisor:
    """Restarts and health checks of the containers in `records`.

    start_again: the life cycle's start of an exited container (its lock held);
    stop: its stop with the container's own timeout; background: a task holder.
    """

    records: ContainerRecords
    paths: DaemonPaths
    runtime: TaskRuntime
    runtime_of: Callable[[dict[str, Any]], Runtime]
    start_again: Step
    stop: Step
    background: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]]
    closing: bool = field(default=False, init=False)

    # ---- restart policy ------------------------------------------------------------
    def should_restart(self, c: Container, code: int) -> bool:
        if (c.manually_stopped or c.live.removing or self.closing
                or c.id not in self.records.containers):  # fmt: skip
            return False
        name, max_retries = restart_policy(c.host_config)
        if name in ("always", "unless-stopped"):
            return True
        if name == "on-failure":
            return code != 0 and (max_retries == 0 or c.restart_count < max_retries)
        return False

    def schedule_restart(self, c: Container) -> None:
        ran = time.monotonic() - c.live.started_mono
        if ran >= 10 or c.live.backoff == 0:
            c.live.backoff = 0.1
        elif c.live.backoff < 60:
            c.live.backoff = min(c.live.backoff * 2, 60)
        c.state.update(Status="restarting", Restarting=True)
        self.records.save(c)
        c.live.restart_task = self.background(self._restart_later(c, c.live.backoff))

    async def _restart_later(self, c: Container, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            return
        c.live.restart_task = None
        try:
            async with c.live.lock:
                if c.id not in self.records.containers or c.manually_stopped or c.running:
                    return
                c.restart_count += 1
                await self.start_again(c)
            if c.manually_stopped:  # stopped while it was starting
                await self.stop(c)
                return
            self.start_health(c)
        except DockyardError as exc:
            log.warning("restart of %s failed: %s", c.id[:12], exc.message)
            c.state.update(Restarting=False, Status="exited", Error=exc.message)
            self.records.save(c)
            return
        self.records.publish(c, "restart")

    def cancel_restart(self, c: Container) -> None:
        task, c.live.restart_task = c.live.restart_task, None
        if task is not None:
            task.cancel()

    # ---- health checks ---------------------------------------------------------------
    def start_health(self, c: Container) -> None:
        check = health_config(c.config)
        if check is None:
            c.state.pop("Health", None)
            return
        c.state["Health"] = {"Status": "starting", "FailingStreak": 0, "Log": []}
        self.records.save(c)
        if c.live.health_task is not None:
            c.live.health_task.cancel()
        c.live.health_task = asyncio.create_task(self._health_loop(c, check))

    def stop_health(self, c: Container) -> None:
        if c.live.health_task is not None:
            c.live.health_task.cancel()
            c.live.health_task = None

    async def _health_loop(self, c: Container, check: HealthCheck) -> None:
        started = time.monotonic()
        while c.running and c.id in self.records.containers:
            in_start_period = time.monotonic() - started < check.start_period
            await asyncio.sleep(check.start_interval if in_start_period else check.interval)
            if not c.running:
                return
            probe = await self._probe(c, check)
            health = c.state.setdefault("Health", {"Status": "starting", "FailingStreak": 0})
            log_ = health.setdefault("Log", [])
            log_.append(probe)
            del log_[:-5]
            old = health["Status"]
            if probe["ExitCode"] == 0:
                health["FailingStreak"] = 0
                health["Status"] = "healthy"
            elif not in_start_period or old != "starting":
                health["FailingStreak"] = health.get("FailingStreak", 0) + 1
                if health["FailingStreak"] >= check.retries:
                    health["Status"] = "unhealthy"
            self.records.save(c)
            if health["Status"] != old:
                self.records.publish(c, f"health_status: {health['Status']}")

    async def _probe(self, c: Container, check: HealthCheck) -> dict[str, Any]:
        """One run of the check inside the container, through the runtime's `exec`."""
        start = jsonlog.rfc3339_nano()
        try:
            with open(os.path.join(self.paths.bundle(c.id), "config.json")) as f:
                process = json.load(f)["process"]
        except (OSError, json.JSONDecodeError, KeyError) as exc:
            return {"Start": start, "End": start, "ExitCode": -1, "Output": str(exc)}
        process = dict(process, args=check.args, terminal=False)
        pfile = os.path.join(self.paths.bundle(c.id), f"health-{secrets.token_hex(4)}.json")
        write_json_atomic(pfile, process, durable=False)
        try:
            done = await self.runtime.exec_output(
                self.runtime_of(c.host_config), c.id, pfile, check.timeout
            )
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(pfile)
        if done is None:
            code, output = -1, f"Health check exceeded timeout ({check.timeout:g}s)"
        else:
            code, output = done[0], done[1][:4096].decode("utf-8", "replace")
        return {"Start": start, "End": jsonlog.rfc3339_nano(), "ExitCode": code, "Output": output}
