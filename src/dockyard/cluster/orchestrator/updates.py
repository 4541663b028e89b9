"""How a service update (or rollback) goes, as swarmkit's updater judges it, without I/O:
a task of the new spec that fails within `Monitor` of its start is a failure (its start:
when the leader saw it running, `running_since`; a task it never saw running counts from
its creation, so one that fails before it runs is a failure as with swarmkit); more
failures than `MaxFailureRatio` of the service's tasks trigger `FailureAction` (pause:
State paused; rollback: the previous spec comes back, State rollback_started; continue:
nothing); every live task running the spec completes it. The leader writes what this
returns; the rolling itself (parallelism, order, delay, paused) is in `reconcile`."""

from __future__ import annotations

from typing import Any

from dockyard.cluster.model import objects
from dockyard.cluster.model.objects import SECOND
from dockyard.proto.image import parse_rfc3339

_FAILED = ("failed", "rejected", "complete")  # an update's task must not end by itself
ACTIVE = ("updating", "rollback_started")
PAUSED = ("paused", "rollback_paused")


def config(svc: dict[str, Any]) -> dict[str, Any]:
    """UpdateConfig, or RollbackConfig while rolling back."""
    status = (svc.get("UpdateStatus") or {}).get("State")
    key = "RollbackConfig" if status in ("rollback_started", "rollback_paused") else "UpdateConfig"
    return dict(svc["Spec"].get(key) or {})


def update_progress(svc: dict[str, Any], tasks: list[dict[str, Any]], now: float,
                    running_since: dict[str, float] | None = None) -> dict[str, Any] | None:  # fmt: skip
    """The service with its UpdateStatus moved on (completed, paused, rolled back), or
    None while the update goes on as it is. `running_since`: task id → when it started
    running (as the leader saw it)."""
    status = svc.get("UpdateStatus") or {}
    if status.get("State") not in ACTIVE:
        return None
    rollback = status["State"] == "rollback_started"
    spec = svc["Spec"].get("TaskTemplate")
    mine = [t for t in tasks if t["ServiceID"] == svc["ID"]]
    failed = [] if objects.is_job(svc) else _failures(svc, mine, spec, status, running_since or {})
    cfg = config(svc)
    total = objects.replicas(svc) or len([t for t in mine if t["DesiredState"] == "running"]) or 1
    if failed and len(failed) > float(cfg.get("MaxFailureRatio") or 0) * total:
        action = cfg.get("FailureAction") or "pause"
        culprit = failed[-1]["ID"]
        if action == "rollback" and not rollback and svc.get("PreviousSpec"):
            return {**svc, "Spec": svc["PreviousSpec"], "PreviousSpec": svc["Spec"],
                    "UpdateStatus": {**status, "State": "rollback_started",
                                     "Message": "update rolled back due to failure or early "
                                                f"termination of task {culprit}"}}  # fmt: skip
        if action != "continue":
            what = "rollback" if rollback else "update"
            return {**svc, "UpdateStatus": {
                **status, "State": "rollback_paused" if rollback else "paused",
                "Message": f"{what} paused due to failure or early termination of task {culprit}",
            }}  # fmt: skip
    live = [t for t in mine if t["DesiredState"] == "running"]
    if any(t["Spec"] != spec or t["Status"]["State"] != "running" for t in live):
        return None
    return {**svc, "UpdateStatus": {
        **status, "State": "rollback_completed" if rollback else "completed",
        "CompletedAt": objects.now(),
        "Message": "rollback completed" if rollback else "update completed",
    }}  # fmt: skip


def _failures(svc: dict[str, Any], tasks: list[dict[str, Any]], spec: Any,
              status: dict[str, Any], running_since: dict[str, float]) -> list[dict[str, Any]]:  # fmt: skip
    """Tasks of this update (the current spec, created since it started) that ended within
    the monitor period of their start, oldest first."""
    monitor = int(config(svc).get("Monitor") or 5 * SECOND) / SECOND
    started = parse_rfc3339(status.get("StartedAt") or "")
    out = []
    for t in tasks:
        if t["Spec"] != spec or t["Status"]["State"] not in _FAILED:
            continue
        created = parse_rfc3339(t["CreatedAt"])
        if created + 0.001 < started:
            continue
        since = running_since.get(t["ID"], created)
        if parse_rfc3339(t["Status"].get("Timestamp") or t["CreatedAt"]) - since <= monitor:
            out.append(t)
    return sorted(out, key=lambda t: t["CreatedAt"])


def note_running(tasks: list[dict[str, Any]], running_since: dict[str, float]) -> None:
    """Records when each running task started (its running status's time), and forgets
    tasks that are gone: the leader keeps this between passes, as swarmkit's updater."""
    ids = {t["ID"] for t in tasks}
    for tid in [tid for tid in running_since if tid not in ids]:
        del running_since[tid]
    for t in tasks:
        if t["Status"].get("State") == "running" and t["ID"] not in running_since:
            running_since[t["ID"]] = parse_rfc3339(t["Status"].get("Timestamp") or t["CreatedAt"])
