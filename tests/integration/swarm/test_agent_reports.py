"""The agent's reports of its tasks' states reach the store even when the store refuses
one for a while, as etcd does during an election ("etcdserver: request timed out,
possibly due to previous leader failure"): a lost "running" left a task shown as
assigned for good, and a rolling update waiting on it (test_managers.py's
leader-dies test, once in a full run).

A real etcd; the store in front of it refuses the first writes of task statuses (the
fault an election gives, at a chosen point); the containers are a stand-in for the
daemon's (this tests what the agent writes, not how containers run).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from dockyard.cluster.agent.agent import Agent
from dockyard.cluster.model import objects as model
from dockyard.cluster.model.repo import ClusterObjects
from dockyard.cluster.store import EtcdStore, StoreUnavailable
from tests.conformance.conftest import etcd_url  # noqa: F401  (the real etcd fixture)

_ELECTION = "etcdserver: request timed out, possibly due to previous leader failure"


class _Refusing(EtcdStore):
    """Refuses the first `n` writes of a task's status and the first `reads` reads of a
    service, as etcd does during an election."""

    def __init__(self, url: str, n: int, reads: int = 0) -> None:
        super().__init__([url])
        self.refuse, self.refuse_reads = n, reads

    async def put(self, key: str, value: bytes, **kw: Any) -> Any:
        if "/task-status/" in key and self.refuse > 0:
            self.refuse -= 1
            raise StoreUnavailable(_ELECTION)
        return await super().put(key, value, **kw)

    async def get(self, key: str) -> Any:
        if "/services/" in key and self.refuse_reads > 0:
            self.refuse_reads -= 1
            raise StoreUnavailable(_ELECTION)
        return await super().get(key)


class _Containers:
    """Containers that start and run until stopped."""

    def __init__(self) -> None:
        self.stopped: dict[str, asyncio.Event] = {}

    async def create(self, name: str, body: dict[str, Any], files: dict[str, bytes]) -> str:
        cid = uuid.uuid4().hex
        self.stopped[cid] = asyncio.Event()
        return cid

    async def start(self, container_id: str) -> None:
        return None

    async def stop(self, container_id: str, timeout: int | None = None) -> None:
        self.stopped[container_id].set()

    async def remove(self, container_id: str) -> None:
        self.stopped.pop(container_id, None)

    async def wait(self, container_id: str) -> int:
        await self.stopped[container_id].wait()
        return 137

    def pid(self, container_id: str) -> int:
        return 1

    def by_label(self, label: str) -> dict[str, str]:
        return {}

    async def wait_healthy(self, container_id: str) -> str:
        return ""

    def logs(self, container_id: str, **kw: Any) -> AsyncIterator[tuple[int, bytes]]:
        raise NotImplementedError

    async def health_events(self) -> AsyncIterator[tuple[str, str]]:
        await asyncio.Event().wait()
        yield "", ""


@pytest.mark.parametrize("refused", ["report", "service-read"])
def test_a_task_runs_and_says_so_through_an_election(etcd_url: str, refused: str) -> None:  # noqa: F811
    """A refused report is sent again; a refused read of the task's service is tried
    again (it rejected the task: a rolling update then paused on a "failure")."""

    async def go() -> None:
        store = _Refusing(etcd_url, 2) if refused == "report" else _Refusing(etcd_url, 0, 2)
        objs = ClusterObjects(store, f"/dytest-{uuid.uuid4().hex[:8]}/")
        svc = {"ID": "svc1", "Spec": {"Name": "web", "TaskTemplate": {
            "ContainerSpec": {"Image": "busybox", "Args": ["sleep", "1000"]}}}}  # fmt: skip
        await store.put(objs.key("services", "svc1"), json.dumps(svc).encode())
        svc["Version"] = {"Index": 0}
        t = model.task(svc, 1, node_id="node1")
        await store.put(objs.key("tasks", t["ID"]), json.dumps(t).encode())
        agent = Agent(objs, _Containers(), "node1")  # type: ignore[arg-type]
        run = asyncio.create_task(agent.run())
        try:
            deadline = asyncio.get_running_loop().time() + 30
            state = None
            while asyncio.get_running_loop().time() < deadline:
                kv = await EtcdStore.get(store, objs.status_key(t))
                state = json.loads(kv.value)["State"] if kv else None
                if state == "running":
                    break
                await asyncio.sleep(0.1)
            assert state == "running", f"the store shows {state!r} after 30 s"
            assert store.refuse == 0 and store.refuse_reads == 0
        finally:
            run.cancel()
            await asyncio.gather(run, return_exceptions=True)
            await store.close()

    asyncio.run(go())
