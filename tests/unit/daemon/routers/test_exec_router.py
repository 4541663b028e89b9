"""The exec router over a fake backend: create checks detach keys before the
service sees the request, inspect and resize pass through, a detached start
answers at once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from dockyard.api.errors import NotFound
from dockyard.daemon.routers import exec as router
from dockyard.daemon.services.exec import Exec
from dockyard.daemon.services.outputs import Fanout, Subscription
from tests.unit.daemon.routers.fakes import Calls, ask, container


class FakeExecs(Calls):
    def __init__(self) -> None:
        super().__init__()
        self.e = Exec("e" * 64, container(), {"Cmd": ["true"]})
        self.fanout = Fanout()

    def create(self, ref: str, body: dict[str, Any]) -> str:
        self.record("create", ref, body)
        return self.e.id

    def get(self, exec_id: str) -> Exec:
        if exec_id != self.e.id:
            raise NotFound(f"No such exec instance: {exec_id}")
        return self.e

    def resize(self, exec_id: str, h: int, w: int) -> None:
        self.record("resize", exec_id, h, w)

    async def start(self, exec_id: str) -> Exec:
        self.record("start", exec_id)
        return self.e

    def subscribe(self, e: Exec) -> Subscription:
        return self.fanout.subscribe()

    def unsubscribe(self, e: Exec, q: Subscription) -> None:
        self.fanout.unsubscribe(q)

    async def send_stdin(self, e: Exec, data: bytes) -> None:
        self.record("send_stdin", data)

    async def close_stdin(self, e: Exec) -> None:
        self.record("close_stdin")


def _run(svc: FakeExecs, *requests: tuple[str, str, bytes]) -> list:
    return asyncio.run(ask([router.routes(svc)], list(requests)))


def test_create_refuses_bad_detach_keys_before_the_service() -> None:
    svc = FakeExecs()
    bad, good = _run(
        svc,
        (
            "POST",
            "/containers/web/exec",
            json.dumps({"Cmd": ["sh"], "DetachKeys": "ctrl-"}).encode(),
        ),
        ("POST", "/containers/web/exec", json.dumps({"Cmd": ["sh"]}).encode()),
    )
    assert bad.status == 400 and "ctrl-" in bad.message
    assert good.status == 201 and json.loads(good.body) == {"Id": "e" * 64}
    assert [args[0] for args, _ in svc.named("create")] == ["web"]


def test_inspect_resize_and_a_detached_start() -> None:
    svc = FakeExecs()
    eid = "e" * 64
    inspect, missing, resize, start = _run(
        svc,
        ("GET", f"/exec/{eid}/json", b""),
        ("GET", "/exec/nope/json", b""),
        ("POST", f"/exec/{eid}/resize?h=10&w=20", b""),
        ("POST", f"/exec/{eid}/start", b'{"Detach": true}'),
    )
    assert inspect.status == 200 and json.loads(inspect.body)["ID"] == eid
    assert missing.status == 404 and missing.message == "No such exec instance: nope"
    assert resize.status == 200 and svc.named("resize") == [((eid, 10, 20), {})]
    assert start.status == 200 and svc.named("start") == [((eid,), {})]
