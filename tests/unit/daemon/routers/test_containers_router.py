"""The /containers router's request and response handling over fake backends:
query parameters reach the services as typed values, answers and errors go out
in Docker's shapes (status, JSON, multiplexed log frames)."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

from dockyard.api.errors import NoSuchContainer
from dockyard.daemon.routers import containers as router
from dockyard.daemon.services.container_model import Container
from dockyard.daemon.services.outputs import Fanout, Subscription
from dockyard.proto import stdcopy
from tests.unit.daemon.routers.fakes import Calls, ask, container


class FakeContainers(Calls):
    def __init__(self, *known: Container) -> None:
        super().__init__()
        self.known = {c.id: c for c in known}
        self.fanout = Fanout()

    def get(self, ref: str) -> Container:
        for c in self.known.values():
            if ref in (c.id, c.name.lstrip("/")):
                return c
        raise NoSuchContainer(ref)

    def create(self, name: str | None, body: dict[str, Any]) -> tuple[str, list[str]]:
        self.record("create", name, body)
        return "new" * 21 + "n", ["a warning"]

    async def start(self, ref: str) -> None:
        self.get(ref)
        self.record("start", ref)

    async def stop(self, ref: str, timeout: int | None = None, sig: str | None = None) -> None:
        self.record("stop", ref, timeout, sig)

    async def restart(self, ref: str, timeout: int | None = None) -> None:
        self.record("restart", ref, timeout)

    async def kill(self, ref: str, sig: str | int | None = None) -> None:
        self.record("kill", ref, sig)

    async def wait(self, ref: str, condition: str = "not-running") -> dict[str, Any]:
        self.record("wait", ref, condition)
        return {"StatusCode": 3, "Error": None}

    async def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        self.record("prune", filters)
        return {"ContainersDeleted": None, "SpaceReclaimed": 0}

    async def update(self, ref: str, body: dict[str, Any]) -> list[str]:
        self.record("update", ref, body)
        return []

    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        self.record("remove", ref, force, volumes)

    async def logs(
        self, ref: str, *, stdout: bool, stderr: bool, follow: bool = False, since: float = 0,
        until: float = 0, timestamps: bool = False, tail: int | None = None,
    ) -> AsyncIterator[tuple[int, bytes]]:  # fmt: skip
        self.record("logs", ref, stdout=stdout, stderr=stderr, follow=follow, since=since,
                    until=until, timestamps=timestamps, tail=tail)  # fmt: skip
        yield stdcopy.STDOUT, b"out\n"
        yield stdcopy.STDERR, b"err\n"

    def subscribe(self, c: Container) -> Subscription:
        return self.fanout.subscribe()

    def unsubscribe(self, c: Container, q: Subscription) -> None:
        self.fanout.unsubscribe(q)

    async def send_stdin(self, c: Container, data: bytes) -> None:
        self.record("send_stdin", data)

    async def close_stdin(self, c: Container) -> None:
        self.record("close_stdin")

    def publish(self, c: Container, action: str, **extra: str) -> None:
        self.record("publish", action)


class FakeViews(Calls):
    async def list_summaries(
        self, filters: dict[str, list[str]], all: bool, limit: int | None, size: bool
    ) -> list[dict[str, Any]]:
        self.record("list", filters, all, limit, size)
        return [{"Id": "x"}]

    async def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        if ref != "web":
            raise NoSuchContainer(ref)
        return {"Id": "c" * 64, "SizeAsked": size}

    def remove_link(self, name: str) -> None:
        self.record("remove_link", name)


def _run(svc: FakeContainers, views: FakeViews, *requests: tuple[str, str, bytes]) -> list:
    return asyncio.run(ask([router.routes(svc, views)], list(requests)))


def test_list_passes_filters_all_limit_and_size_to_the_views() -> None:
    svc, views = FakeContainers(), FakeViews()
    filters = urllib.parse.quote(json.dumps({"label": {"a=b": True}, "status": {"exited": True}}))
    (a,) = _run(
        svc, views, ("GET", f"/containers/json?all=1&limit=3&size=true&filters={filters}", b"")
    )
    assert a.status == 200 and json.loads(a.body) == [{"Id": "x"}]
    assert views.named("list") == [(({"label": ["a=b"], "status": ["exited"]}, True, 3, True), {})]


def test_inspect_answers_the_view_and_docker_s_404_for_an_unknown_container() -> None:
    a, b = _run(FakeContainers(), FakeViews(),
                ("GET", "/containers/web/json?size=1", b""), ("GET", "/v1.41/containers/nope/json", b""))  # fmt: skip
    assert a.status == 200 and json.loads(a.body)["SizeAsked"] is True
    assert b.status == 404 and b.message == "No such container: nope"


def test_create_answers_201_with_id_and_warnings() -> None:
    svc = FakeContainers()
    (a,) = _run(svc, FakeViews(), ("POST", "/containers/create?name=web", b'{"Image": "busybox"}'))
    assert a.status == 201
    assert json.loads(a.body) == {"Id": "new" * 21 + "n", "Warnings": ["a warning"]}
    (name, body), _ = svc.named("create")[0]
    assert name == "web" and body["Image"] == "busybox"


def test_stop_restart_kill_and_wait_pass_their_parameters() -> None:
    svc = FakeContainers(container())
    answers = _run(svc, FakeViews(),
                   ("POST", "/containers/web/stop?t=5&signal=SIGINT", b""),
                   ("POST", "/containers/web/restart?t=2", b""),
                   ("POST", "/containers/web/kill?signal=HUP", b""),
                   ("POST", "/containers/web/wait?condition=next-exit", b""))  # fmt: skip
    assert [a.status for a in answers] == [204, 204, 204, 200]
    assert svc.named("stop") == [(("web", 5, "SIGINT"), {})]
    assert svc.named("restart") == [(("web", 2), {})]
    assert svc.named("kill") == [(("web", "HUP"), {})]
    assert svc.named("wait") == [(("c" * 64, "next-exit"), {})]
    assert json.loads(answers[3].body) == {"StatusCode": 3, "Error": None}


def test_remove_with_link_removes_the_link_only() -> None:
    svc, views = FakeContainers(), FakeViews()
    a, b, c = _run(svc, views, ("DELETE", "/containers/web?force=1&v=1", b""),
                   ("DELETE", "/containers/parent/alias?link=1", b""),
                   ("DELETE", "/containers/parent/alias", b""))  # fmt: skip
    assert (a.status, b.status, c.status) == (204, 204, 404)
    assert svc.named("remove") == [(("web", True, True), {})]
    assert views.named("remove_link") == [(("parent/alias",), {})]


def test_logs_need_a_stream_and_come_multiplexed_without_a_tty() -> None:
    svc = FakeContainers(container())
    a, b = _run(svc, FakeViews(), ("GET", "/containers/web/logs", b""),
                ("GET", "/containers/web/logs?stdout=1&stderr=1&tail=2&timestamps=1", b""))  # fmt: skip
    assert a.status == 400
    assert a.message == "Bad parameters: you must choose at least one stream"
    assert b.status == 200
    assert b.body == stdcopy.encode(stdcopy.STDOUT, b"out\n") + stdcopy.encode(
        stdcopy.STDERR, b"err\n"
    )
    _, kw = svc.named("logs")[0]
    assert kw["tail"] == 2 and kw["timestamps"] is True and kw["follow"] is False


def test_logs_of_a_tty_container_are_raw() -> None:
    svc = FakeContainers(container(tty=True))
    (a,) = _run(svc, FakeViews(), ("GET", "/containers/web/logs?stdout=1&stderr=1", b""))
    assert a.body == b"out\nerr\n"
