"""The elected manager's loop: every change under the cluster prefix (a watch, not a
poll) triggers one pass that reconciles services into tasks, places unassigned tasks
and writes what changed. Only the leader writes tasks/ keys."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from dockyard.cluster.model.repo import ClusterObjects, dump, load
from dockyard.cluster.orchestrator.reconcile import reconcile
from dockyard.cluster.orchestrator.updates import note_running, update_progress
from dockyard.cluster.scheduler.spread import schedule
from dockyard.cluster.store import Compare, Delete, Event, Put, Range

_TXN_OPS = 100

log = logging.getLogger(__name__)


async def alive_nodes(objects: ClusterObjects) -> set[str]:
    kvs, _ = await objects.store.range(objects.key("alive"))
    return {kv.key.rsplit("/", 1)[1] for kv in kvs}


def _changed(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    if old is None:
        return True
    keys = ("DesiredState", "NodeID")
    if any(old.get(k) != new.get(k) for k in keys):
        return True
    o, n = old["Status"], new["Status"]
    return bool(o.get("State") != n.get("State") or o.get("Err") != n.get("Err"))


async def _snapshot(objects: ClusterObjects) -> tuple[
    dict[str, Any] | None, list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]],
    set[str],
]:  # fmt: skip
    """The swarm, services, tasks (with their statuses), nodes and live nodes in one read
    at one revision: a pass read them in five round trips before."""
    res = await objects.store.txn([], [
        Range(objects.private_key("swarm")), Range(objects.key("services"), prefix=True),
        Range(objects.key("tasks"), prefix=True), Range(objects.key("task-status"), prefix=True),
        Range(objects.key("nodes"), prefix=True), Range(objects.key("alive"), prefix=True),
    ])  # fmt: skip
    swarm_kvs, svc_kvs, task_kvs, status_kvs, node_kvs, alive_kvs = res.ranges
    return (
        load(swarm_kvs[0]) if swarm_kvs else None,
        [load(kv) for kv in svc_kvs],
        objects.with_status(task_kvs, status_kvs),
        [load(kv) for kv in node_kvs],
        {kv.key.rsplit("/", 1)[1] for kv in alive_kvs},
    )


# a task's status on its way to running changes no plan (no write of them wakes a pass)
_NO_CHANGE_STATES = frozenset({"new", "pending", "assigned", "accepted", "preparing", "starting"})
_PLAN_INPUTS = ("services/", "tasks/", "task-status/", "nodes/", "alive/")


def wakes_a_pass(objects: ClusterObjects, ev: Event, own: set[int]) -> bool:
    """Does this change feed the plan? Not the leader's own task writes (`own`: their
    revisions), nor keys reconcile never reads (names, secrets, the overlay's and mesh's
    keys), nor a status on its way to running: each pass reads everything, so on a busy
    swarm every pass saved is CPU the nodes' container starts have."""
    rel = ev.kv.key[len(objects.prefix) :]
    if not rel.startswith(_PLAN_INPUTS):
        return False
    if ev.kv.mod_revision in own:
        return False
    if rel.startswith("task-status/") and ev.type == "put":
        with contextlib.suppress(ValueError, AttributeError):
            return json.loads(ev.kv.value).get("State") not in _NO_CHANGE_STATES
    return True


class LostLeadership(Exception):
    """The election key is no longer ours: another manager leads now."""


@dataclass
class Memory:
    """What the leader keeps between passes: the revisions of its own task writes (their
    events wake no pass) and when each task started running (the update monitor)."""

    own: set[int] = field(default_factory=set)
    running_since: dict[str, float] = field(default_factory=dict)


async def one_pass(
    objects: ClusterObjects, fence: Compare, memory: Memory | None = None
) -> float | None:
    """Reconcile and schedule once; when to come back for a restart delay (or None).
    Its writes go in transactions guarded by `fence` (the election key still names this
    node), so a deposed leader that has not noticed yet writes nothing."""
    memory = memory or Memory()
    swarm, services, tasks, nodes, alive = await _snapshot(objects)
    note_running(tasks, memory.running_since)
    limit = 5
    if swarm is not None:
        limit = int(swarm["Spec"]["Orchestration"].get("TaskHistoryRetentionLimit") or 5)
    moved = False
    for svc in services:  # an update that failed pauses or rolls back before it goes on
        status = update_progress(svc, tasks, time.time(), memory.running_since)
        if status is not None and status["UpdateStatus"]["State"] not in _DONE:
            await _write_service(objects, fence, svc, status)
            moved = True
    if moved:  # the next pass rolls with the new status (its write wakes it anyway)
        return time.time()
    plan = reconcile(services, tasks, nodes, alive, limit)
    before = {t["ID"]: t for t in tasks}
    after = dict(before)
    for t in plan.update + plan.create:
        after[t["ID"]] = t
    for t in plan.delete:
        after.pop(t["ID"], None)
    live = [t for t in after.values() if t["DesiredState"] == "running"]
    pending = [t for t in live if not t.get("NodeID")]
    for t in schedule(pending, nodes, alive, [t for t in live if t.get("NodeID")]):
        after[t["ID"]] = t
    ops: list[Put | Delete] = []
    for t in plan.delete:
        ops += [Delete(objects.key("tasks", t["ID"])), Delete(objects.status_key(t))]
    for tid, t in after.items():
        if _changed(before.get(tid), t):
            ops.append(Put(objects.key("tasks", tid), dump(t)))
    for i in range(0, len(ops), _TXN_OPS):  # etcd's --max-txn-ops is 128
        res = await objects.store.txn([fence], ops[i : i + _TXN_OPS])
        if not res.succeeded:
            raise LostLeadership()
        memory.own.add(res.revision)
    for svc in services:
        done = update_progress(svc, list(after.values()), time.time(), memory.running_since)
        if done is not None and done["UpdateStatus"]["State"] in _DONE:
            await _write_service(objects, fence, svc, done)
    return plan.wake_at


_DONE = ("completed", "rollback_completed")


async def _write_service(objects: ClusterObjects, fence: Compare, svc: dict[str, Any],
                         new: dict[str, Any]) -> None:  # fmt: skip
    """Guarded by the service's revision: a newer update by a user wins."""
    key = objects.key("services", svc["ID"])
    await objects.store.txn([fence, Compare(key, "mod", svc["Version"]["Index"])],
                            [Put(key, dump(new))])  # fmt: skip


async def run(objects: ClusterObjects, fence: Compare) -> None:
    """Until cancelled (the node leaves) or the leadership is lost."""
    trigger = asyncio.Event()
    _, rev = await objects.store.range(objects.key("services"))
    memory = Memory()
    own = memory.own

    async def watch() -> None:
        async for ev in objects.store.watch(objects.prefix, rev + 1):
            if wakes_a_pass(objects, ev, own):
                trigger.set()
            elif len(own) > 64:  # revisions already seen go: the watch is in order
                own.difference_update({r for r in own if r < ev.kv.mod_revision})

    watcher = asyncio.create_task(watch())
    wake: float | None = None
    try:
        trigger.set()
        while True:
            timeout = None if wake is None else max(0.0, wake - time.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(trigger.wait(), timeout)
            trigger.clear()
            await asyncio.sleep(0.02)  # a burst of writes (a service create) is one pass
            trigger.clear()
            try:
                wake = await one_pass(objects, fence, memory)
            except (asyncio.CancelledError, LostLeadership):
                raise
            except Exception:
                log.exception("orchestrator pass failed; retrying")
                wake = time.time() + 1
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher
