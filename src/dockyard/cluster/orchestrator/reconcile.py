"""Desired state → task changes, without I/O: replicated and global services, restart
policies, nodes that went down or drained, scale down, rolling updates (stop-first and
start-first, `Parallelism` slots at a time), removed services and task history.

A task is "live" while its DesiredState is running. A live task whose container ended
(or whose node is down or no longer eligible) is retired (desired shutdown) and, as its
restart policy says, replaced in the same slot by a new task the scheduler places.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from dockyard.cluster.model import objects
from dockyard.cluster.model.objects import SECOND, TERMINAL
from dockyard.cluster.orchestrator import updates
from dockyard.cluster.scheduler import constraints
from dockyard.cluster.scheduler.spread import accepts_new, constraints_of
from dockyard.proto.image import parse_rfc3339


@dataclass
class Plan:
    create: list[dict[str, Any]] = field(default_factory=list)
    update: list[dict[str, Any]] = field(default_factory=list)  # with the Version read
    delete: list[dict[str, Any]] = field(default_factory=list)
    wake_at: float | None = None  # a restart delay to come back for

    def wake(self, at: float) -> None:
        self.wake_at = at if self.wake_at is None else min(self.wake_at, at)


_ENDED_BY_ITSELF = {"complete", "failed", "rejected"}


def _retire(t: dict[str, Any], plan: Plan, desired: str = "shutdown") -> None:
    if t["DesiredState"] != desired:
        plan.update.append({**t, "DesiredState": desired})
        t["DesiredState"] = desired


def _restart_wanted(svc: dict[str, Any], t: dict[str, Any], node_gone: bool) -> bool:
    if node_gone:
        return True
    if objects.is_job(svc) and t["Status"]["State"] == "complete":
        return False
    policy = (svc["Spec"].get("TaskTemplate") or {}).get("RestartPolicy") or {}
    cond = policy.get("Condition") or "any"
    state = t["Status"]["State"]
    if cond == "none":
        return False
    if cond == "on-failure":
        return state in ("failed", "rejected")
    return True


def _restart_delay(svc: dict[str, Any]) -> float:
    policy = (svc["Spec"].get("TaskTemplate") or {}).get("RestartPolicy") or {}
    delay = policy.get("Delay")
    return (5 * SECOND if delay is None else int(delay)) / SECOND


def _attempts_left(svc: dict[str, Any], slot_tasks: list[dict[str, Any]]) -> bool:
    policy = (svc["Spec"].get("TaskTemplate") or {}).get("RestartPolicy") or {}
    limit = int(policy.get("MaxAttempts") or 0)
    if not limit:
        return True
    spec = svc["Spec"].get("TaskTemplate")
    ended = [t for t in slot_tasks if t["Status"]["State"] in TERMINAL and t["Spec"] == spec]
    return len(ended) <= limit


def _eligible(node: dict[str, Any] | None, alive: set[str], t: dict[str, Any]) -> bool:
    """May a live task stay where it is? Not on a down or drained node, nor one that no
    longer satisfies its constraints."""
    if node is None or node["ID"] not in alive:
        return False
    if node["Spec"].get("Availability") == "drain":
        return False
    return constraints.matches(node, constraints_of(t))


def reconcile(
    services: list[dict[str, Any]],
    tasks: list[dict[str, Any]],
    nodes: list[dict[str, Any]],
    alive: set[str],
    history_limit: int = 5,
    now: float | None = None,
) -> Plan:
    now = time.time() if now is None else now
    plan = Plan()
    by_id = {s["ID"]: s for s in services}
    node_by_id = {n["ID"]: n for n in nodes}
    tasks = [dict(t) for t in tasks]
    for t in tasks:
        svc = by_id.get(t["ServiceID"])
        gone_node = bool(t.get("NodeID")) and t["NodeID"] not in alive
        if svc is None:  # the service was removed: its tasks go once they stopped
            if t["Status"]["State"] in TERMINAL or gone_node or not t.get("NodeID"):
                plan.delete.append(t)
            else:
                _retire(t, plan, "remove")
    for svc in services:
        _service(svc, [t for t in tasks if t["ServiceID"] == svc["ID"]], nodes, node_by_id,
                 alive, plan, now)  # fmt: skip
        _history(svc, [t for t in tasks if t["ServiceID"] == svc["ID"]], history_limit, plan)
    return plan


def _service(
    svc: dict[str, Any],
    tasks: list[dict[str, Any]],
    nodes: list[dict[str, Any]],
    node_by_id: dict[str, dict[str, Any]],
    alive: set[str],
    plan: Plan,
    now: float,
) -> None:
    spec = svc["Spec"].get("TaskTemplate") or {}
    replicas = objects.replicas(svc)
    by_slot: dict[Any, list[dict[str, Any]]] = {}
    for t in tasks:
        by_slot.setdefault(t["Slot"] if replicas is not None else t["NodeID"], []).append(t)
    # 1. retire live tasks that ended by themselves or whose node is gone/ineligible
    for slot_tasks in by_slot.values():
        for t in slot_tasks:
            if t["DesiredState"] != "running":
                continue
            node_ok = not t.get("NodeID") or _eligible(node_by_id.get(t["NodeID"]), alive, t)
            if not node_ok or t["Status"]["State"] in TERMINAL:
                _retire(t, plan)
    # 2. slots without a live task get one, unless the restart policy holds it back
    if replicas is not None:
        wanted: list[Any] = list(range(1, replicas + 1))
    else:
        wanted = [
            n["ID"] for n in nodes
            if accepts_new(n, alive) and constraints.matches(n, constraints_of({"Spec": spec}))
        ]  # fmt: skip
    # a replicated job runs at most MaxConcurrent of its slots at a time, lowest first
    budget = objects.max_concurrent(svc)
    if budget is not None:
        budget -= sum(any(t["DesiredState"] == "running" for t in ts) for ts in by_slot.values())
    for slot in wanted:
        slot_tasks = by_slot.get(slot, [])
        if any(t["DesiredState"] == "running" for t in slot_tasks):
            continue
        if budget is not None and budget <= 0:
            break
        last = max(slot_tasks, key=lambda t: t["CreatedAt"], default=None)
        if last is not None and last["Status"]["State"] in _ENDED_BY_ITSELF:
            if not _restart_wanted(svc, last, False) or not _attempts_left(svc, slot_tasks):
                continue
            due = parse_rfc3339(last["Status"].get("Timestamp")) + _restart_delay(svc)
            if due > now:
                plan.wake(due)
                continue
        if budget is not None:
            budget -= 1
        new = objects.task(svc, slot if replicas is not None else 0,
                           node_id="" if replicas is not None else slot)  # fmt: skip
        if replicas is None:
            new["Status"] = objects.task_status("assigned", "scheduler assigned task to node")
        plan.create.append(new)
        by_slot.setdefault(slot, []).append(new)
    # 3. slots no longer wanted (scale down, a node left a global service)
    for slot, slot_tasks in by_slot.items():
        if slot not in wanted:
            for t in slot_tasks:
                if t["DesiredState"] == "running":
                    _retire(t, plan)
    # 4. rolling update: tasks of an older spec, Parallelism slots at a time
    _rolling_update(svc, spec, by_slot, wanted, replicas is None, plan, now)


def _rolling_update(
    svc: dict[str, Any],
    spec: dict[str, Any],
    by_slot: dict[Any, list[dict[str, Any]]],
    wanted: list[Any],
    global_mode: bool,
    plan: Plan,
    now: float,
) -> None:
    """A paused update starts no more slots; with `Delay`, the next batch waits that long
    after the last new task came up (RollbackConfig's settings while rolling back)."""
    cfg = updates.config(svc)
    parallelism = int(cfg.get("Parallelism", 1) or 0) or len(wanted) or 1
    start_first = cfg.get("Order") == "start-first"
    paused = (svc.get("UpdateStatus") or {}).get("State") in updates.PAUSED
    in_progress = 0
    last_up = 0.0
    outdated = []
    for slot in wanted:
        slot_tasks = by_slot.get(slot, [])
        live = [t for t in slot_tasks if t["DesiredState"] == "running"]
        new = [t for t in live if t["Spec"] == spec]
        old = [t for t in live if t["Spec"] != spec]
        if new and new[0]["Status"]["State"] != "running":
            in_progress += 1
            continue
        last = max(slot_tasks, key=lambda t: t["CreatedAt"], default=None)
        if not live and last is not None and last["Spec"] == spec:
            in_progress += 1  # updated, ended, awaiting its restart: the update waits
            continue
        if new and old:
            last_up = max(last_up, parse_rfc3339(new[0]["Status"].get("Timestamp")))
        if new and old:  # start-first: the new one runs, the old one goes
            for t in old:
                _retire(t, plan)
            continue
        if old:
            outdated.append((slot, old))
        elif new and svc.get("UpdateStatus", {}).get("State") in updates.ACTIVE:
            last_up = max(last_up, parse_rfc3339(new[0]["Status"].get("Timestamp")))
    if paused:
        outdated = []
    delay = int(cfg.get("Delay") or 0) / SECOND
    if outdated and delay and last_up and now < last_up + delay:
        plan.wake(last_up + delay)
        outdated = []
    for slot, old in outdated[: max(0, parallelism - in_progress)]:
        if not start_first:
            for t in old:
                _retire(t, plan)
        n = objects.task(svc, slot if not global_mode else 0, node_id=slot if global_mode else "")
        if global_mode:
            n["Status"] = objects.task_status("assigned", "scheduler assigned task to node")
        plan.create.append(n)


def _history(svc: dict[str, Any], tasks: list[dict[str, Any]], limit: int, plan: Plan) -> None:
    """Keeps `limit` retired tasks per slot (TaskHistoryRetentionLimit), oldest go first."""
    by_slot: dict[Any, list[dict[str, Any]]] = {}
    for t in tasks:
        if t["DesiredState"] != "running" and t["Status"]["State"] in TERMINAL:
            by_slot.setdefault(t["Slot"] or t["NodeID"], []).append(t)
    for dead in by_slot.values():
        dead.sort(key=lambda t: t["CreatedAt"])
        plan.delete.extend(dead[: max(0, len(dead) - limit)])
