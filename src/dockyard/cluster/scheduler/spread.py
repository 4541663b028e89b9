"""Placing tasks: filter the nodes a task may run on, then spread by count (the node
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
    for t in live:
        if t.get("NodeID"):
            per_service[(t["ServiceID"], t["NodeID"])] = (
                per_service.get((t["ServiceID"], t["NodeID"]), 0) + 1
            )
            total[t["NodeID"]] = total.get(t["NodeID"], 0) + 1
    out = []
    for t in pending:
        available = [n for n in nodes if accepts_new(n, alive)]
        fit = [n for n in available if constraints.matches(n, constraints_of(t))]
        limit = max_per_node(t)
        if limit:
            fit = [n for n in fit if per_service.get((t["ServiceID"], n["ID"]), 0) < limit]
        if not fit:
            reasons = []
            if len(available) < len(nodes):
                gone = len(nodes) - len(available)
                reasons.append(f"{gone} node{'s' if gone > 1 else ''} not available for new tasks")
            unfit = len(available) - len(fit)
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
        best = min(
            fit,
            key=lambda n: (per_service.get((t["ServiceID"], n["ID"]), 0), total.get(n["ID"], 0)),
        )
        key = (t["ServiceID"], best["ID"])
        per_service[key] = per_service.get(key, 0) + 1
        total[best["ID"]] = total.get(best["ID"], 0) + 1
        out.append(
            {**t, "NodeID": best["ID"],
             "Status": task_status("assigned", "scheduler assigned task to node")}
        )  # fmt: skip
    return out
