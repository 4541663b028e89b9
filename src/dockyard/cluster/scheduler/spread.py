"""Placing tasks: filter the nodes a task may run on (available, enough unreserved CPU and
memory for the task's reservations, constraints, max replicas per node), then spread:
first over the values of each placement preference's label (`spread=node.labels.zone`:
each zone gets an equal share, whatever its number of nodes), then by count (the node
with fewest tasks of the service, then fewest tasks overall), as swarmkit's scheduler.
A task no node fits stays pending with the reason swarmkit gives."""

from __future__ import annotations

from typing import Any

from dockyard.cluster.model.objects import task_status
from dockyard.cluster.scheduler import constraints


def constraints_of(task: dict[str, Any]) -> list[str]:
    return list(((task.get("Spec") or {}).get("Placement") or {}).get("Constraints") or [])


def max_per_node(task: dict[str, Any]) -> int:
    return int(((task.get("Spec") or {}).get("Placement") or {}).get("MaxReplicas") or 0)


def reservations(task: dict[str, Any]) -> tuple[int, int]:
    """(NanoCPUs, MemoryBytes) the task reserves."""
    r = ((task.get("Spec") or {}).get("Resources") or {}).get("Reservations") or {}
    return int(r.get("NanoCPUs") or 0), int(r.get("MemoryBytes") or 0)


def _capacity(node: dict[str, Any]) -> tuple[int, int]:
    r = (node.get("Description") or {}).get("Resources") or {}
    return int(r.get("NanoCPUs") or 0), int(r.get("MemoryBytes") or 0)


def preferences(task: dict[str, Any]) -> list[str]:
    prefs = ((task.get("Spec") or {}).get("Placement") or {}).get("Preferences") or []
    return [str((p.get("Spread") or {}).get("SpreadDescriptor") or "") for p in prefs]


def label_value(node: dict[str, Any], descriptor: str) -> str:
    """node.labels.X (the node's Spec) or engine.labels.X; "" where the node has none."""
    if descriptor.startswith("node.labels."):
        labels = (node.get("Spec") or {}).get("Labels") or {}
        return str(labels.get(descriptor[len("node.labels.") :], ""))
    if descriptor.startswith("engine.labels."):
        labels = ((node.get("Description") or {}).get("Engine") or {}).get("Labels") or {}
        return str(labels.get(descriptor[len("engine.labels.") :], ""))
    return ""


def accepts_new(node: dict[str, Any], alive: set[str]) -> bool:
    return node["ID"] in alive and node["Spec"].get("Availability", "active") == "active"


def schedule(
    pending: list[dict[str, Any]],
    nodes: list[dict[str, Any]],
    alive: set[str],
    live: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The pending tasks with NodeID and Status set (assigned, or pending with the reason)."""
    per_service: dict[tuple[str, str], int] = {}
    total: dict[str, int] = {}
    reserved: dict[str, tuple[int, int]] = {}
    node_by_id = {n["ID"]: n for n in nodes}

    def count(t: dict[str, Any], node_id: str) -> None:
        per_service[(t["ServiceID"], node_id)] = per_service.get((t["ServiceID"], node_id), 0) + 1
        total[node_id] = total.get(node_id, 0) + 1
        cpu, mem = reservations(t)
        rc, rm = reserved.get(node_id, (0, 0))
        reserved[node_id] = (rc + cpu, rm + mem)

    for t in live:
        if t.get("NodeID"):
            count(t, t["NodeID"])

    def has_room(n: dict[str, Any], want: tuple[int, int]) -> bool:
        cap, used = _capacity(n), reserved.get(n["ID"], (0, 0))
        return all(w == 0 or u + w <= c for w, u, c in zip(want, used, cap, strict=True))

    def in_group(service_id: str, descriptor: str, value: str) -> int:
        return sum(c for (sid, nid), c in per_service.items() if sid == service_id
                   and nid in node_by_id and label_value(node_by_id[nid], descriptor) == value)  # fmt: skip

    out = []
    for t in pending:
        available = [n for n in nodes if accepts_new(n, alive)]
        want = reservations(t)
        roomy = [n for n in available if has_room(n, want)]
        fit = [n for n in roomy if constraints.matches(n, constraints_of(t))]
        limit = max_per_node(t)
        if limit:
            fit = [n for n in fit if per_service.get((t["ServiceID"], n["ID"]), 0) < limit]
        if not fit:
            reasons = []
            if len(available) < len(nodes):
                gone = len(nodes) - len(available)
                reasons.append(f"{gone} node{'s' if gone > 1 else ''} not available for new tasks")
            if len(roomy) < len(available):
                short = len(available) - len(roomy)
                reasons.append(f"insufficient resources on {short} node{'s' if short > 1 else ''}")
            unfit = len(roomy) - len(fit)
            if unfit:
                why = (
                    "max replicas per node limit exceed"
                    if limit
                    else ("scheduling constraints not satisfied")
                )
                reasons.append(f"{why} on {unfit} node{'s' if unfit > 1 else ''}")
            t = {**t, "Status": task_status(
                "pending", "pending task scheduling",
                err=f"no suitable node ({'; '.join(reasons) or 'no nodes'})",
            )}  # fmt: skip
            out.append(t)
            continue
        prefs = preferences(t)
        best = min(
            fit,
            key=lambda n: (
                *(in_group(t["ServiceID"], p, label_value(n, p)) for p in prefs),
                per_service.get((t["ServiceID"], n["ID"]), 0), total.get(n["ID"], 0),
            ),
        )  # fmt: skip
        count(t, best["ID"])
        out.append(
            {**t, "NodeID": best["ID"],
             "Status": task_status("assigned", "scheduler assigned task to node")}
        )  # fmt: skip
    return out
