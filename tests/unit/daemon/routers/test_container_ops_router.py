"""The per-container operations router over a fake backend: archive (docker cp)
headers, streams and uploads, stats documents, export, rename and resize
parameters, and the services' errors in Docker's shape."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from dockyard.api.errors import Conflict, NoSuchContainer, NotFound
from dockyard.daemon.routers import container_ops as router
from dockyard.daemon.services import archive
from dockyard.daemon.services.container_model import Container
from tests.unit.daemon.routers.fakes import Calls, ask, chunks, container


class FakeOps(Calls):
    def __init__(self, c: Container) -> None:
        super().__init__()
        self.c = c
        self.samples = 0

    def get(self, ref: str) -> Container:
        if ref != "web":
            raise NoSuchContainer(ref)
        return self.c

    def alive(self, c: Container) -> bool:
        return True

    def resize(self, ref: str, h: int, w: int) -> None:
        self.record("resize", ref, h, w)

    async def pause(self, ref: str) -> None:
        raise Conflict(f"Container {ref} is not running")

    async def unpause(self, ref: str) -> None:
        self.record("unpause", ref)

    def rename(self, ref: str, new_name: str) -> None:
        self.record("rename", ref, new_name)

    async def top(self, ref: str, ps_args: str) -> dict[str, Any]:
        return {"Titles": ["PID"], "Processes": [["1"]], "args": ps_args}

    def changes(self, ref: str) -> list[dict[str, Any]]:
        return []

    async def stats_sample(self, c: Container) -> tuple[dict[str, Any] | None, str]:
        self.samples += 1
        return None, "0001-01-01T00:00:00Z"  # not running: one document, zeroes

    async def export(self, ref: str) -> AsyncIterator[bytes]:
        self.get(ref)
        yield b"tar-1"
        yield b"tar-2"

    async def archive_stat(self, ref: str, path: str) -> str:
        if path == "/missing":
            raise NotFound(f"Could not find the file {path} in container {ref}")
        return "c3RhdA=="

    @contextlib.asynccontextmanager
    async def archive_read(
        self, ref: str, path: str
    ) -> AsyncIterator[tuple[str, AsyncIterator[bytes]]]:
        self.record("archive_read", ref, path)
        yield "aGVhZGVy", chunks(b"part1", b"part2")

    async def archive_write(
        self, ref: str, path: str, body: AsyncIterator[bytes], no_overwrite: bool
    ) -> None:
        self.record("archive_write", ref, path, b"".join([c async for c in body]), no_overwrite)


def _run(ops: FakeOps, *requests: tuple[str, str, bytes]) -> list:
    return asyncio.run(ask([router.routes(ops)], list(requests)))


def test_archive_head_get_and_put() -> None:
    ops = FakeOps(container())
    head, missing, get, put = _run(
        ops,
        ("HEAD", "/containers/web/archive?path=/etc", b""),
        ("HEAD", "/containers/web/archive?path=/missing", b""),
        ("GET", "/containers/web/archive?path=/etc", b""),
        ("PUT", "/containers/web/archive?path=/tmp&noOverwriteDirNonDir=1", b"a tar"),
    )
    assert head.status == 200 and head.headers[archive.STAT_HEADER] == "c3RhdA=="
    assert missing.status == 404
    assert get.status == 200 and get.body == b"part1part2"
    assert get.headers[archive.STAT_HEADER] == "aGVhZGVy"
    assert get.headers["Content-Type"] == "application/x-tar"
    assert ops.named("archive_read") == [(("web", "/etc"), {})]
    assert put.status == 200
    assert ops.named("archive_write") == [(("web", "/tmp", b"a tar", True), {})]


def test_stats_without_stream_is_one_document() -> None:
    ops = FakeOps(container())
    (a,) = _run(ops, ("GET", "/containers/web/stats?stream=false", b""))
    doc = json.loads(a.body)
    assert a.status == 200 and doc["id"] == "c" * 64 and doc["name"] == "/web"
    assert ops.samples == 1  # a stopped container: no second sample a second later


def test_stats_of_an_unknown_container_is_404() -> None:
    (a,) = _run(FakeOps(container()), ("GET", "/containers/nope/stats?stream=false", b""))
    assert a.status == 404 and json.loads(a.body)["message"] == "No such container: nope"


def test_export_streams_the_tar() -> None:
    a, b = _run(FakeOps(container()), ("GET", "/containers/web/export", b""),
                ("GET", "/containers/nope/export", b""))  # fmt: skip
    assert a.status == 200 and a.body == b"tar-1tar-2"
    assert a.headers["Content-Type"] == "application/x-tar"
    assert b.status == 404


def test_rename_resize_pause_and_top_parameters() -> None:
    ops = FakeOps(container())
    rename, resize, pause, top = _run(
        ops,
        ("POST", "/containers/web/rename?name=new", b""),
        ("POST", "/containers/web/resize?h=24&w=80", b""),
        ("POST", "/containers/web/pause", b""),
        ("GET", "/containers/web/top?ps_args=aux", b""),
    )
    assert (rename.status, resize.status, pause.status, top.status) == (204, 200, 409, 200)
    assert ops.named("rename") == [(("web", "new"), {})]
    assert ops.named("resize") == [(("web", 24, 80), {})]
    assert json.loads(pause.body)["message"] == "Container web is not running"
    assert json.loads(top.body)["args"] == "aux"
