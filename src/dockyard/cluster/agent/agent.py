"""The agent: runs the tasks the scheduler assigned to this node and reports their states.

It reads tasks/ (desired state, written by managers) through a watch and writes only its
tasks' task-status/ keys. A task that should run and has no container gets one; one
whose desired state moved past running is stopped; a task whose key is gone has its
container removed. Containers found at start whose task no longer exists are removed,
so a node that returns after being replaced elsewhere stops its stale tasks at once.
A running task whose container turns unhealthy is killed and reported failed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from dockyard.cluster import endpoints
from dockyard.cluster.agent import containerspec
from dockyard.cluster.agent.protocol import TaskContainers
from dockyard.cluster.model.objects import TERMINAL, state_index, task_status
from dockyard.cluster.model.repo import ClusterObjects
from dockyard.cluster.overlay import OverlayAgent
from dockyard.cluster.store import StoreError, StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
TASK_LABEL = "com.docker.swarm.task.id"
BALANCING_CONVERGES = 1.0  # seconds
ACTING_GRACE = 15.0  # seconds a stopping agent gives a task's start or stop under way
STORE_RETRY_FIRST, STORE_RETRY_MAX = 0.2, 2.0  # seconds between tries of a refused call


class Agent:
    def __init__(
        self,
        objects: ClusterObjects,
        containers: TaskContainers,
        node_id: str,
        overlay: OverlayAgent | None = None,
        secret_value: Callable[[dict[str, Any], str], Awaitable[bytes]] | None = None,
    ) -> None:
        """`secret_value(task, secret id)`: the secret's bytes (sealed in the store; the
        node knows who may open them)."""
        self.objects = objects
        self.secret_value = secret_value
        self.overlay = overlay
        self.containers = containers
        self.node_id = node_id
        self.tasks: dict[str, dict[str, Any]] = {}  # this node's tasks, as last seen
        self.observed: dict[str, str] = {}  # task id → the state we last reported
        self.container_of: dict[str, str] = dict(containers.by_label(TASK_LABEL))
        self._locks: dict[str, asyncio.Lock] = {}
        self._work: set[asyncio.Task[None]] = set()
        self._acting: set[asyncio.Task[None]] = set()  # of _work: starts and stops
        self._unhealthy: set[str] = set()  # tasks killed for failing their health check
        self._services: dict[str, dict[str, Any]] = {}  # service id → as last read
        self._stopping = False

    async def run(self) -> None:
        prefix = self.objects.key("tasks")
        kvs, rev = await self.objects.store.range(prefix)
        statuses = {t["ID"]: t for t in await self.objects.list("tasks")}
        for kv in kvs:
            t = json.loads(kv.value)
            if t.get("NodeID") == self.node_id:
                self.tasks[t["ID"]] = t
                self.observed[t["ID"]] = statuses.get(t["ID"], t)["Status"]["State"]
        for tid in list(self.container_of):
            if tid not in self.tasks:  # its task was deleted while we were away
                self._kick(tid)
        for tid in list(self.tasks):
            cid = self.container_of.get(tid)
            if cid and self.observed[tid] == "running":  # kept running while we were away
                w = asyncio.create_task(self._wait(tid, cid))
                self._work.add(w)
                w.add_done_callback(self._work.discard)
            self._kick(tid)
        health = asyncio.create_task(self._watch_health())
        self._work.add(health)
        try:
            async for ev in self.objects.store.watch(prefix, rev + 1):
                tid = ev.kv.key.rsplit("/", 1)[1]
                if ev.type == "delete":
                    if self.tasks.pop(tid, None) is not None or tid in self.container_of:
                        self._kick(tid)
                    continue
                t = json.loads(ev.kv.value)
                if t.get("NodeID") != self.node_id:
                    if self.tasks.pop(tid, None) is not None:  # moved away from us
                        self._kick(tid)
                    continue
                self.tasks[tid] = t
                self._kick(tid)
        finally:
            await self._finish()

    async def _finish(self) -> None:
        """The agent stops (leave, daemon stop): a task's start or stop under way may end
        first (a container start cancelled halfway left its network namespace mounted
        with no container to unmount it at a manager's leave); waits on exits end now."""
        self._stopping = True
        for w in list(self._work - self._acting):
            w.cancel()
        if self._acting:
            await asyncio.wait(list(self._acting), timeout=ACTING_GRACE)
        for w in list(self._work):
            w.cancel()

    def _kick(self, tid: str) -> None:
        w = asyncio.create_task(self._reconcile(tid))
        self._work.add(w)
        self._acting.add(w)
        w.add_done_callback(self._work.discard)
        w.add_done_callback(self._acting.discard)

    async def _report(self, tid: str, status: dict[str, Any]) -> None:
        """Writes the status until the store takes it. Nothing else would send it again:
        a lost "running" left the task shown as assigned for good (and a rolling update
        waiting on it). Callers hold the task's lock, so a later report cannot be
        overtaken by this one's retries."""
        self.observed[tid] = status["State"]
        try:
            await self._through_elections(
                lambda: self.objects.set_task_status(self.node_id, tid, status),
                f"task {tid}: report {status['State']}",
            )
        except StoreError as exc:  # refused for good, or the agent stops
            log.warning("task %s: could not report %s: %s", tid, status["State"], exc)

    async def _through_elections(self, op: Callable[[], Awaitable[T]], what: str) -> T:
        """`op()`, tried again while the store is unavailable: etcd refuses reads and
        writes during an election ("request timed out, possibly due to previous leader
        failure") and while it has no quorum. Other refusals, and a stopping agent's,
        are raised."""
        delay = STORE_RETRY_FIRST
        while True:
            try:
                return await op()
            except StoreUnavailable as exc:
                if self._stopping:
                    raise
                if delay == STORE_RETRY_FIRST:
                    log.warning("%s: the store refused it (trying again): %s", what, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, STORE_RETRY_MAX)

    async def _reconcile(self, tid: str) -> None:
        lock = self._locks.setdefault(tid, asyncio.Lock())
        async with lock:
            t = self.tasks.get(tid)
            cid = self.container_of.get(tid)
            if t is None:
                if cid:
                    await self._remove(tid, cid)
                self._locks.pop(tid, None)
                self.observed.pop(tid, None)
                return
            desired = t.get("DesiredState", "running")
            observed = self.observed.get(tid, t["Status"]["State"])
            if desired == "running" and state_index(observed) < state_index("preparing"):
                await self._start(t)
            elif state_index(desired) > state_index("running") and observed not in TERMINAL:
                if cid and self.overlay is not None and self.overlay.balanced(tid):
                    # every node's balancing drops a retired task on the same watch event;
                    # its connections get this long to go elsewhere (dockerd waits 2 s)
                    await asyncio.sleep(BALANCING_CONVERGES)
                if cid:
                    with contextlib.suppress(Exception):
                        await self.containers.stop(cid, containerspec.stop_timeout(t))
                await self._leave_networks(tid)
                await self._report(tid, task_status("shutdown", "shutdown", container_id=cid or ""))
            if desired == "remove" and cid:
                await self._remove(tid, cid)

    async def _remove(self, tid: str, cid: str) -> None:
        with contextlib.suppress(Exception):
            await self.containers.remove(cid)
        self.container_of.pop(tid, None)
        await self._leave_networks(tid)

    async def _leave_networks(self, tid: str) -> None:
        if self.overlay is not None:
            try:
                await self.overlay.detach(tid)
            except Exception as exc:  # the store is away: leave() and restarts clean up
                log.warning("task %s: could not release its overlay endpoints: %s", tid, exc)

    async def _files(self, t: dict[str, Any]) -> dict[str, bytes]:
        files = {}
        for secret_id, path in containerspec.secret_targets(t):
            if self.secret_value is None:
                files[path] = await self.objects.secret_data(secret_id)
            else:
                files[path] = await self.secret_value(t, secret_id)
        for config_id, path in containerspec.config_targets(t):
            cfg = await self.objects.get("configs", config_id)
            files[path] = base64.b64decode(cfg["Spec"].get("Data") or "")
        return files

    async def _start(self, t: dict[str, Any]) -> None:
        tid = t["ID"]
        # accepted, preparing and starting pass without a write of their own: every write
        # is a raft commit on the start's way and an event every node's watches wake for
        self.observed[tid] = "preparing"
        try:
            svc = await self._through_elections(lambda: self._service(t), f"task {tid}: start")
            name = svc["Spec"]["Name"]
            body = containerspec.create_body(name, t, svc["Spec"].get("EndpointSpec"))
            cid = await self.containers.create(
                containerspec.container_name(name, t),
                body,
                await self._through_elections(lambda: self._files(t), f"task {tid}: start"),
            )
            self.container_of[tid] = cid
            await self.containers.start(cid)
            if self.overlay is not None:
                await self.overlay.attach(
                    endpoints.with_ingress(t, svc), cid, self.containers.pid(cid), name
                )
            healthy = True
            if containerspec.has_healthcheck(t):  # running (and balanced to) once healthy
                await self._report(tid, task_status("starting", "starting"))
                healthy = await self.containers.wait_healthy(cid) != "unhealthy"
        except Exception as exc:
            msg = getattr(exc, "message", None) or str(exc)
            await self._report(tid, task_status("rejected", "preparing", err=msg))
            return
        if not healthy:  # never healthy: it fails as dockerd's executor fails it, unbalanced
            self._unhealthy.add(tid)
            with contextlib.suppress(Exception):
                await self.containers.stop(cid, 0)
        else:
            await self._report(
                tid,
                task_status("running", "started", container_id=cid, pid=self.containers.pid(cid)),
            )
        w = asyncio.create_task(self._wait(tid, cid))
        self._work.add(w)
        w.add_done_callback(self._work.discard)

    async def _service(self, t: dict[str, Any]) -> dict[str, Any]:
        """The task's service, read once per version: a batch of its tasks starting
        together asks the store once (a version at least the task's is as good)."""
        sid = t["ServiceID"]
        svc = self._services.get(sid)
        if svc is None or svc["Version"]["Index"] < int(
            (t.get("SpecVersion") or {}).get("Index") or 0
        ):
            svc = self._services[sid] = await self.objects.get("services", sid)
        return svc

    async def _watch_health(self) -> None:
        """A running task whose container turns unhealthy is killed and fails (dockerd's
        executor does the same); its restart policy replaces it."""
        async for cid, health in self.containers.health_events():
            if health != "unhealthy":
                continue
            tid = next((t for t, c in self.container_of.items() if c == cid), "")
            if not tid or tid not in self.tasks or self.observed.get(tid) != "running":
                continue
            self._unhealthy.add(tid)
            with contextlib.suppress(Exception):
                await self.containers.stop(cid, 0)

    async def _wait(self, tid: str, cid: str) -> None:
        code = await self.containers.wait(cid)
        async with self._locks.setdefault(tid, asyncio.Lock()):
            if self.observed.get(tid) in TERMINAL or tid not in self.tasks:
                return  # stopped on purpose: already reported
            await self._leave_networks(tid)
            unhealthy = tid in self._unhealthy
            self._unhealthy.discard(tid)
            if code == 0 and not unhealthy:
                status = task_status("complete", "finished", container_id=cid, exit_code=0)
            else:
                err = f"task: non-zero exit ({code})"
                if unhealthy:
                    err += ": dockerexec: unhealthy container"
                status = task_status(
                    "failed", "started", err=err, container_id=cid, exit_code=code,
                )  # fmt: skip
            await self._report(tid, status)
