"""Where the swarm objects live in the cluster store, and their optimistic concurrency.

Layout (under one prefix, "/dockyard/" by default):
    nodes/<id>              a Node (its Spec written by managers, its Status by the node)
    alive/<id>              a node's liveness key, bound to its short-TTL lease
    services/<id>, secrets/<id>, configs/<id>
    names/<kind>/<name>     → id: a name is unique per kind (claimed in the create's txn)
    tasks/<id>              a Task's desired state (written by the orchestrator/scheduler)
    task-status/<node>/<id> its observed Status (written by the agent of its node only: per
                            node, so that the store's RBAC can confine a node to its own)
    secret-data/<id>        a secret's bytes, never part of the object shown
    leader                  the orchestrator/scheduler election key
and beside it, under "<prefix>-private/" (managers only: workers may read all of the
prefix above, so a watch on it works for them, but never the join tokens or keys):
    swarm                   the Swarm object (with the join tokens)
    swarm-keys/             the CA's key, the data key (`security.keys`)
A key's etcd mod revision is the object's `Version.Index`; an update names the index it
read and fails with swarmkit's "update out of sequence" when the key has moved on.
"""

from __future__ import annotations

import json
from typing import Any

from dockyard.api.errors import Conflict, InvalidParameter, NotFound, SystemError_
from dockyard.cluster.model.objects import state_index
from dockyard.cluster.store import (
    ClusterStore,
    Compare,
    Delete,
    KeyValue,
    Put,
    Range,
    RevisionMismatch,
)

KINDS = ("nodes", "services", "tasks", "secrets", "configs")
_SINGULAR = {"nodes": "node", "services": "service", "tasks": "task", "secrets": "secret",
             "configs": "config"}  # fmt: skip
OUT_OF_SEQUENCE = "rpc error: code = Unknown desc = update out of sequence"


class OutOfSequence(SystemError_):
    def __init__(self) -> None:
        super().__init__(OUT_OF_SEQUENCE)


def load(kv: KeyValue) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(kv.value)
    obj["Version"] = {"Index": kv.mod_revision}
    return obj


def dump(obj: dict[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in obj.items() if k != "Version"}).encode()


def object_name(kind: str, obj: dict[str, Any]) -> str:
    if kind == "nodes":
        return str((obj.get("Description") or {}).get("Hostname") or "")
    return str((obj.get("Spec") or {}).get("Name") or "")


class ClusterObjects:
    def __init__(self, store: ClusterStore, prefix: str = "/dockyard/") -> None:
        self.store = store
        self.prefix = prefix
        self.private = prefix.rstrip("/") + "-private/"

    def key(self, kind: str, obj_id: str = "") -> str:
        return f"{self.prefix}{kind}/{obj_id}"

    def private_key(self, kind: str, obj_id: str = "") -> str:
        return f"{self.private}{kind}/{obj_id}" if obj_id else f"{self.private}{kind}"

    def status_key(self, task: dict[str, Any]) -> str:
        return self.key("task-status", f"{task.get('NodeID') or '-'}/{task['ID']}")

    # ---- the swarm -------------------------------------------------------------------
    async def get_swarm(self) -> dict[str, Any] | None:
        kv = await self.store.get(self.private_key("swarm"))
        return load(kv) if kv else None

    async def create_swarm(self, obj: dict[str, Any]) -> None:
        await self.store.put(self.private_key("swarm"), dump(obj), expect=0)

    async def update_swarm(self, obj: dict[str, Any], version: int) -> None:
        try:
            await self.store.put(self.private_key("swarm"), dump(obj), expect=version)
        except RevisionMismatch:
            raise OutOfSequence() from None

    # ---- objects ---------------------------------------------------------------------
    async def list(self, kind: str) -> list[dict[str, Any]]:
        if kind != "tasks":
            kvs, _ = await self.store.range(self.key(kind))
            return [load(kv) for kv in kvs]
        # tasks and their statuses read at one revision: a consistent snapshot
        res = await self.store.txn(
            [], [Range(self.key("tasks"), prefix=True), Range(self.key("task-status"), prefix=True)]
        )
        return self.with_status(res.ranges[0], res.ranges[1])

    def with_status(
        self, task_kvs: list[KeyValue], status_kvs: list[KeyValue]
    ) -> list[dict[str, Any]]:
        """Tasks as shown, from their keys and the task-status/ keys read with them."""
        by_key = {kv.key: kv for kv in status_kvs}
        tasks = [load(kv) for kv in task_kvs]
        return [merge_status(t, by_key.get(self.status_key(t))) for t in tasks]

    async def get(self, kind: str, ref: str) -> dict[str, Any]:
        """By full ID, then by name, then by unique ID prefix, as dockerd resolves them."""
        if not ref:
            raise NotFound(f"{_SINGULAR[kind]} {ref} not found")
        kv = await self.store.get(self.key(kind, ref))
        if kv is not None:
            obj = load(kv)
            if kind == "tasks":
                obj = merge_status(obj, await self.store.get(self.status_key(obj)))
            return obj
        objs = await self.list(kind)
        named = [o for o in objs if object_name(kind, o) == ref]
        if len(named) == 1:
            return named[0]
        matches = named or [o for o in objs if o["ID"].startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidParameter(
                f"{_SINGULAR[kind]} {ref} is ambiguous ({len(matches)} matches found)"
            )
        raise NotFound(f"{_SINGULAR[kind]} {ref} not found")

    async def create(self, kind: str, obj: dict[str, Any], extra: list[Put] | None = None) -> int:
        """Stores a new object; one with a name claims it in the same transaction."""
        guards = [Compare(self.key(kind, obj["ID"]), "create", 0)]
        ops: list[Put | Delete] = [Put(self.key(kind, obj["ID"]), dump(obj)), *(extra or [])]
        name = object_name(kind, obj) if kind in ("services", "secrets", "configs") else ""
        if name:
            name_key = self.key("names", f"{kind}/{name}")
            guards.append(Compare(name_key, "create", 0))
            ops.append(Put(name_key, obj["ID"].encode()))
        res = await self.store.txn(guards, ops)  # type: ignore[arg-type]
        if not res.succeeded:
            if kind == "services":
                raise Conflict(
                    "rpc error: code = AlreadyExists desc = name conflicts with an existing "
                    f"object: service {name} already exists"
                )
            raise Conflict(
                f"rpc error: code = AlreadyExists desc = {_SINGULAR[kind]} {name} already exists"
            )
        return res.revision

    async def update(self, kind: str, obj: dict[str, Any], version: int) -> int:
        res = await self.store.txn(
            [Compare(self.key(kind, obj["ID"]), "mod", version)],
            [Put(self.key(kind, obj["ID"]), dump(obj))],
        )
        if not res.succeeded:
            raise OutOfSequence()
        return res.revision

    async def delete(
        self, kind: str, obj: dict[str, Any], extra: list[Delete] | None = None
    ) -> None:
        ops = [Delete(self.key(kind, obj["ID"])), *(extra or [])]
        name = object_name(kind, obj) if kind in ("services", "secrets", "configs") else ""
        if name:
            ops.append(Delete(self.key("names", f"{kind}/{name}")))
        if kind == "tasks":
            ops.append(Delete(self.status_key(obj)))
        await self.store.txn([], ops)  # type: ignore[arg-type]

    async def set_task_status(self, node_id: str, task_id: str, status: dict[str, Any]) -> None:
        """The agent's report: its own key, so it never races the orchestrator's writes."""
        key = self.status_key({"NodeID": node_id, "ID": task_id})
        await self.store.put(key, json.dumps(status).encode())

    async def secret_data(self, secret_id: str) -> bytes:
        kv = await self.store.get(self.key("secret-data", secret_id))
        return kv.value if kv else b""


def merge_status(task: dict[str, Any], status_kv: KeyValue | None) -> dict[str, Any]:
    """A task as shown: the agent's observed status wins unless the managers' is further on
    (a task they orphaned or shut down while its node was away)."""
    if status_kv is None:
        return task
    observed = json.loads(status_kv.value)
    if state_index(observed.get("State", "")) >= state_index(task["Status"].get("State", "")):
        task = {**task, "Status": observed}
    task["Version"] = {"Index": max(task["Version"]["Index"], status_kv.mod_revision)}
    return task
