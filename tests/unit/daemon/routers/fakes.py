"""Small fake backends for the routers' unit tests, and a real aiohttp server on a
temp Unix socket to ask them through (the routers' wire handling, no daemon)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from dockyard.daemon.server.app import make_app
from dockyard.daemon.services.container_model import Container, initial_state
from tests.unit.daemon.serving import serve_raw


def container(cid: str = "c" * 64, name: str = "/web", tty: bool = False) -> Container:
    return Container(
        id=cid, name=name, created="2026-01-01T00:00:00.000000000Z", image="busybox",
        image_id="sha256:" + "1" * 64, config={"Tty": tty, "Labels": {}}, host_config={},
        path="sh", args=[], state=initial_state(),
    )  # fmt: skip


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def message(self) -> str:
        import json

        return json.loads(self.body)["message"]


async def ask(
    tables: list[web.RouteTableDef], requests: list[tuple[str, str, bytes]]
) -> list[Answer]:
    """(method, path, body) each, in order, to an app of `tables`."""
    return [Answer(st, h, b) for st, h, b in await serve_raw(make_app(tables), requests)]


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for p in parts:
        yield p


class Calls:
    """Records the calls a fake received, by name."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def record(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, args, kwargs))

    def named(self, name: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return [(a, k) for n, a, k in self.calls if n == name]
