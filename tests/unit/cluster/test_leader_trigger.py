"""Which store changes wake the orchestrator's pass (each pass reads the whole swarm): a
plan input, but not the leader's own writes, keys reconcile never reads, or a task's
status on its way to running."""

from __future__ import annotations

import json

from dockyard.cluster.model.repo import ClusterObjects
from dockyard.cluster.orchestrator.leader import wakes_a_pass
from dockyard.cluster.store import EtcdStore, Event, KeyValue

OBJS = ClusterObjects(EtcdStore(["http://127.0.0.1:1"]))  # never asked


def ev(key: str, value: bytes = b"{}", rev: int = 10, kind: str = "put") -> Event:
    return Event(kind, KeyValue(OBJS.prefix + key, value, rev, rev))


def status(state: str) -> bytes:
    return json.dumps({"State": state}).encode()


def test_plan_inputs_wake_it() -> None:
    for key in ("services/s1", "tasks/t1", "nodes/n1", "alive/n1"):
        assert wakes_a_pass(OBJS, ev(key), set()), key
    assert wakes_a_pass(OBJS, ev("alive/n1", kind="delete"), set())  # a node's lease ended
    for state in ("running", "complete", "failed", "rejected", "shutdown"):
        assert wakes_a_pass(OBJS, ev("task-status/n1/t1", status(state)), set()), state
    assert wakes_a_pass(OBJS, ev("task-status/n1/t1", kind="delete"), set())


def test_what_changes_no_plan_does_not() -> None:
    for key in ("names/services/web", "secrets/x", "secret-data/x", "agents/n1", "leader/1",
                "endpoints/net/t1", "ipam/net/10.0.0.2", "health/t1"):  # fmt: skip
        assert not wakes_a_pass(OBJS, ev(key), set()), key
    for state in ("assigned", "preparing", "starting"):
        assert not wakes_a_pass(OBJS, ev("task-status/n1/t1", status(state)), set()), state
    # the leader's own task writes (and the deletes of their statuses) in revision 10
    assert not wakes_a_pass(OBJS, ev("tasks/t1", rev=10), {10})
    assert not wakes_a_pass(OBJS, ev("task-status/n1/t1", rev=10, kind="delete"), {10})
    assert wakes_a_pass(OBJS, ev("tasks/t1", rev=11), {10})
