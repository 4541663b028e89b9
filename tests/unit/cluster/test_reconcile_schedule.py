"""The orchestrator's reconcile and the scheduler's spread, on objects built in memory."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from dockyard.api.errors import InvalidParameter
from dockyard.cluster.model import objects
from dockyard.cluster.orchestrator.reconcile import reconcile
from dockyard.cluster.orchestrator.updates import update_progress
from dockyard.cluster.scheduler import constraints
from dockyard.cluster.scheduler.spread import schedule
from dockyard.proto.timetypes import rfc3339_nano


def mknode(host: str, role: str = "worker", availability: str = "active") -> dict[str, Any]:
    n = objects.node(objects.new_id(), role=role, addr="10.0.0.1", manager_addr="",
                     hostname=host, engine_version="0", ncpu=1, memory=1)  # fmt: skip
    n["Spec"]["Availability"] = availability
    return n


def mkservice(replicas: int | None = 3, **task_template: Any) -> dict[str, Any]:
    mode = {"Replicated": {"Replicas": replicas}} if replicas is not None else {"Global": {}}
    tt = {"ContainerSpec": {"Image": "busybox"}, **task_template}
    return objects.service({"Name": "web", "TaskTemplate": tt, "Mode": mode})


def run_to_fixpoint(svc: dict[str, Any], nodes: list[dict[str, Any]], alive: set[str],
                    tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    by_id = {t["ID"]: t for t in tasks}
    for _ in range(10):
        plan = reconcile([svc], list(by_id.values()), nodes, alive, now=0)
        for t in plan.update + plan.create:
            by_id[t["ID"]] = t
        for t in plan.delete:
            by_id.pop(t["ID"], None)
        live = [t for t in by_id.values() if t["DesiredState"] == "running"]
        for t in schedule([t for t in live if not t["NodeID"]], nodes, alive,
                          [t for t in live if t["NodeID"]]):  # fmt: skip
            by_id[t["ID"]] = t
        if not plan.update and not plan.create and not plan.delete:
            break
    return list(by_id.values())


def live_on(tasks: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in tasks:
        if t["DesiredState"] == "running" and t["NodeID"]:
            out[t["NodeID"]] = out.get(t["NodeID"], 0) + 1
    return out


def test_replicas_spread_two_per_node() -> None:
    nodes = [mknode("a"), mknode("b"), mknode("c")]
    alive = {n["ID"] for n in nodes}
    tasks = run_to_fixpoint(mkservice(6), nodes, alive, [])
    assert sorted(live_on(tasks).values()) == [2, 2, 2]
    assert sorted(t["Slot"] for t in tasks) == [1, 2, 3, 4, 5, 6]


def test_drain_and_node_down_move_tasks() -> None:
    nodes = [mknode("a"), mknode("b"), mknode("c")]
    alive = {n["ID"] for n in nodes}
    svc = mkservice(6)
    tasks = run_to_fixpoint(svc, nodes, alive, [])
    nodes[0]["Spec"]["Availability"] = "drain"
    tasks = run_to_fixpoint(svc, nodes, alive, tasks)
    assert live_on(tasks) == {nodes[1]["ID"]: 3, nodes[2]["ID"]: 3}
    alive.discard(nodes[1]["ID"])  # its lease expired
    tasks = run_to_fixpoint(svc, nodes, alive, tasks)
    assert live_on(tasks) == {nodes[2]["ID"]: 6}


def test_global_one_per_eligible_node_and_constraints() -> None:
    nodes = [mknode("a", "manager"), mknode("b"), mknode("c", availability="pause")]
    alive = {n["ID"] for n in nodes}
    tasks = run_to_fixpoint(mkservice(None), nodes, alive, [])
    assert live_on(tasks) == {nodes[0]["ID"]: 1, nodes[1]["ID"]: 1}
    svc = mkservice(2, Placement={"Constraints": ["node.role==manager"]})
    tasks = run_to_fixpoint(svc, nodes, alive, [])
    assert live_on(tasks) == {nodes[0]["ID"]: 2}


def test_no_suitable_node_stays_pending_with_reason() -> None:
    nodes = [mknode("a"), mknode("b", availability="drain")]
    svc = mkservice(1, Placement={"Constraints": ["node.labels.disk==ssd"]})
    tasks = run_to_fixpoint(svc, nodes, {n["ID"] for n in nodes}, [])
    (t,) = tasks
    assert t["Status"]["State"] == "pending"
    assert t["Status"]["Err"] == (
        "no suitable node (1 node not available for new tasks; "
        "scheduling constraints not satisfied on 1 node)"
    )


def test_start_first_update_keeps_replicas() -> None:
    nodes = [mknode("a")]
    alive = {nodes[0]["ID"]}
    svc = mkservice(2)
    tasks = run_to_fixpoint(svc, nodes, alive, [])
    for t in tasks:
        t["Status"] = objects.task_status("running", "started")
    svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] = ["A=1"]
    svc["Spec"]["UpdateConfig"] = {"Parallelism": 1, "Order": "start-first"}
    plan = reconcile([svc], tasks, nodes, alive, now=0)
    assert len(plan.create) == 1 and not plan.update  # a new one first, nothing stopped


def test_bad_constraint() -> None:
    with pytest.raises(InvalidParameter, match="constraint expected one operator from ==, !="):
        constraints.validate(["node.role=manager"])


def test_replicated_job_runs_each_completion_once() -> None:
    nodes = [mknode("a")]
    alive = {nodes[0]["ID"]}
    svc = objects.service({"Name": "j", "TaskTemplate": {"ContainerSpec": {"Image": "x"}},
                           "Mode": {"ReplicatedJob": {"TotalCompletions": 3}}})  # fmt: skip
    tasks = run_to_fixpoint(svc, nodes, alive, [])
    assert sorted(t["Slot"] for t in tasks) == [1, 2, 3]
    for t in tasks:
        t["Status"] = objects.task_status("complete", "finished")
    tasks = run_to_fixpoint(svc, nodes, alive, tasks)
    assert len(tasks) == 3 and all(t["DesiredState"] == "shutdown" for t in tasks)


def test_reservations_fill_nodes_then_pend_with_swarmkits_reason() -> None:
    """2 CPUs and 1 GiB per node; each task reserves 1 CPU: 2 per node, the 5th pends."""
    nodes = [mknode("a"), mknode("b")]
    for n in nodes:
        n["Description"]["Resources"] = {"NanoCPUs": 2 * objects.SECOND, "MemoryBytes": 1 << 30}
    alive = {n["ID"] for n in nodes}
    svc = mkservice(5, Resources={"Reservations": {"NanoCPUs": objects.SECOND}})
    tasks = run_to_fixpoint(svc, nodes, alive, [])
    assert sorted(live_on(tasks).values()) == [2, 2]
    pending = [t for t in tasks if t["Status"]["State"] == "pending"]
    assert len(pending) == 1
    assert pending[0]["Status"]["Err"] == "no suitable node (insufficient resources on 2 nodes)"
    # memory counts too: 600 MiB each, two do not fit on one node
    svc = mkservice(3, Resources={"Reservations": {"MemoryBytes": 600 << 20}})
    tasks = run_to_fixpoint(svc, nodes, alive, [])
    assert sorted(live_on(tasks).values()) == [1, 1]


def test_placement_preference_spreads_over_label_values_first() -> None:
    """Two nodes labelled zone=x, one zone=y: spread=node.labels.zone puts half the tasks
    in each zone (so the lone y node gets as many as both x nodes together)."""
    nodes = [mknode("a"), mknode("b"), mknode("c")]
    for n, zone in zip(nodes, ("x", "x", "y"), strict=True):
        n["Spec"]["Labels"] = {"zone": zone}
    alive = {n["ID"] for n in nodes}
    svc = mkservice(
        4, Placement={"Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}]}
    )
    tasks = run_to_fixpoint(svc, nodes, alive, [])
    on = live_on(tasks)
    assert (
        on.get(nodes[2]["ID"]) == 2 and on.get(nodes[0]["ID"]) == 1 and on.get(nodes[1]["ID"]) == 1
    )


def _updating(svc: dict[str, Any], tasks: list[dict[str, Any]], **cfg: Any) -> dict[str, Any]:
    """svc updated (new env) with UpdateConfig `cfg`, its old tasks running."""
    for t in tasks:
        t["Status"] = objects.task_status("running", "started")
    new = {**svc, "PreviousSpec": svc["Spec"], "Spec": copy.deepcopy(svc["Spec"])}
    new["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] = ["A=1"]
    new["Spec"]["UpdateConfig"] = cfg
    new["UpdateStatus"] = {
        "State": "updating",
        "StartedAt": objects.now(),
        "Message": "update in progress",
    }
    return new


def test_update_failure_pauses_or_rolls_back_as_configured() -> None:
    nodes = [mknode("a")]
    alive = {nodes[0]["ID"]}
    svc = mkservice(3)
    tasks = run_to_fixpoint(svc, nodes, alive, [])
    for action, state, msg in (
        ("pause", "paused", "update paused due to failure or early termination of task "),
        (
            "rollback",
            "rollback_started",
            "update rolled back due to failure or early termination of task ",
        ),
    ):
        new = _updating(svc, [dict(t) for t in tasks], Parallelism=1, FailureAction=action)
        plan = reconcile([new], tasks, nodes, alive, now=time.time())
        (started,) = plan.create
        failed = {
            **started,
            "NodeID": nodes[0]["ID"],
            "Status": objects.task_status("failed", "started", err="task: non-zero exit (1)"),
        }
        out = update_progress(new, [*tasks, failed], now=time.time())
        assert out is not None and out["UpdateStatus"]["State"] == state
        assert out["UpdateStatus"]["Message"] == msg + started["ID"]
        if action == "rollback":
            assert out["Spec"] == svc["Spec"] and out["PreviousSpec"] == new["Spec"]
        else:  # paused: no further slot is updated
            plan = reconcile([out], [*tasks, failed], nodes, alive, now=time.time())
            assert not [t for t in plan.create if t["Spec"] == new["Spec"]["TaskTemplate"]]
    # continue: a failure is no reason to stop
    new = _updating(svc, [dict(t) for t in tasks], Parallelism=1, FailureAction="continue")
    (started,) = reconcile([new], tasks, nodes, alive, now=time.time()).create
    failed = {**started, "Status": objects.task_status("failed", "started", err="x")}
    assert update_progress(new, [*tasks, failed], now=time.time()) is None


def test_update_delay_waits_between_batches() -> None:
    nodes = [mknode("a")]
    alive = {nodes[0]["ID"]}
    svc = mkservice(2)
    tasks = run_to_fixpoint(svc, nodes, alive, [])
    new = _updating(svc, tasks, Parallelism=1, Delay=10 * objects.SECOND)
    t0 = time.time()
    (first,) = reconcile([new], tasks, nodes, alive, now=t0).create
    first = {**first, "NodeID": nodes[0]["ID"], "Status": objects.task_status("running", "started")}
    old_done = [
        {**t, "DesiredState": "shutdown"} if t["Slot"] == first["Slot"] else t for t in tasks
    ]
    plan = reconcile([new], [*old_done, first], nodes, alive, now=t0 + 1)
    assert not plan.create and plan.wake_at is not None and plan.wake_at >= t0 + 9
    plan = reconcile([new], [*old_done, first], nodes, alive, now=t0 + 11)
    assert len(plan.create) == 1


def test_replicated_job_runs_at_most_max_concurrent() -> None:
    """TotalCompletions 5, MaxConcurrent 2: two run at a time, a completion lets the next
    slot start, and the job ends with five completions (swarmkit's jobs orchestrator)."""
    nodes = [mknode("a"), mknode("b")]
    alive = {n["ID"] for n in nodes}
    svc = objects.service({"Name": "j", "TaskTemplate": {"ContainerSpec": {"Image": "x"}},
                           "Mode": {"ReplicatedJob": {"TotalCompletions": 5,
                                                      "MaxConcurrent": 2}}})  # fmt: skip
    tasks = run_to_fixpoint(svc, nodes, alive, [])
    live = [t for t in tasks if t["DesiredState"] == "running"]
    assert sorted(t["Slot"] for t in live) == [1, 2]
    done: set[int] = set()
    for _ in range(5):
        live = [t for t in tasks if t["DesiredState"] == "running"]
        assert 1 <= len(live) <= 2
        first = min(live, key=lambda t: t["Slot"])
        first["Status"] = objects.task_status("complete", "finished")
        done.add(first["Slot"])
        tasks = run_to_fixpoint(svc, nodes, alive, tasks)
    assert done == {1, 2, 3, 4, 5}
    assert not [t for t in tasks if t["DesiredState"] == "running"]
    assert len(tasks) == 5


def test_update_monitor_counts_from_the_tasks_start() -> None:
    """swarmkit's updater: a new task that fails within Monitor of its start (when it was
    seen running) is a failure, however long it took to start; one that ran longer is not."""
    nodes = [mknode("a")]
    alive = {nodes[0]["ID"]}
    svc = mkservice(1)
    tasks = run_to_fixpoint(svc, nodes, alive, [])
    new = _updating(svc, [dict(t) for t in tasks], Parallelism=1, FailureAction="pause",
                    Monitor=5 * objects.SECOND)  # fmt: skip
    base = time.time() - 100
    new["UpdateStatus"]["StartedAt"] = rfc3339_nano(int((base - 1) * 1e9))
    (started,) = reconcile([new], tasks, nodes, alive, now=time.time()).create

    def failed_at(at: float) -> dict[str, Any]:
        st = objects.task_status("failed", "started", err="task: non-zero exit (1)")
        st["Timestamp"] = rfc3339_nano(int(at * 1e9))
        return {**started, "NodeID": nodes[0]["ID"], "CreatedAt": rfc3339_nano(int(base * 1e9)),
                "Status": st}  # fmt: skip

    slow_start = failed_at(base + 12)  # created at base, running at base+10: ran 2 s
    out = update_progress(new, [*tasks, slow_start], now=time.time(),
                          running_since={started["ID"]: base + 10})  # fmt: skip
    assert out is not None and out["UpdateStatus"]["State"] == "paused"
    ran_long = failed_at(base + 10)  # running at base+1: ran 9 s, beyond the monitor
    assert update_progress(new, [*tasks, ran_long], now=time.time(),
                           running_since={started["ID"]: base + 1}) is None  # fmt: skip
