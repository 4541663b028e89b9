"""Routes of the per-container operations: resize, pause/unpause, rename, top,
stats, changes, export and archive (docker cp). Wire shapes only, over the
Backend it declares; the rules are in `services/container_ops.py` (and the
stats document's shape in `services/stats.py`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from aiohttp import web

from dockyard.daemon.routers.handlers import by_id
from dockyard.daemon.routers.streaming import stream_lazily
from dockyard.daemon.server.params import json_response, qbool, qint
from dockyard.daemon.services import archive, stats
from dockyard.daemon.services.container_model import Container


class OpsBackend(Protocol):
    """What these routes need of the container operations service."""

    def get(self, ref: str) -> Container: ...

    def alive(self, c: Container) -> bool: ...

    def resize(self, ref: str, h: int, w: int) -> None: ...

    async def pause(self, ref: str) -> None: ...

    async def unpause(self, ref: str) -> None: ...

    def rename(self, ref: str, new_name: str) -> None: ...

    async def top(self, ref: str, ps_args: str) -> dict[str, Any]: ...

    def changes(self, ref: str) -> list[dict[str, Any]]: ...

    async def stats_sample(self, c: Container) -> tuple[dict[str, Any] | None, str]: ...

    def export(self, ref: str) -> AsyncIterator[bytes]: ...

    async def archive_stat(self, ref: str, path: str) -> str: ...

    def archive_read(
        self, ref: str, path: str
    ) -> AbstractAsyncContextManager[tuple[str, AsyncIterator[bytes]]]: ...

    async def archive_write(
        self, ref: str, path: str, body: AsyncIterator[bytes], no_overwrite: bool
    ) -> None: ...


def routes(ops: OpsBackend) -> web.RouteTableDef:
    r = web.RouteTableDef()

    @r.post("/containers/{id}/resize")
    async def resize(request: web.Request) -> web.Response:
        ops.resize(request.match_info["id"], qint(request, "h", 0) or 0, qint(request, "w", 0) or 0)
        return web.Response(status=200)

    r.post("/containers/{id}/pause")(by_id(ops.pause, status=204))
    r.post("/containers/{id}/unpause")(by_id(ops.unpause, status=204))

    @r.post("/containers/{id}/rename")
    async def rename(request: web.Request) -> web.Response:
        ops.rename(request.match_info["id"], request.query.get("name", ""))
        return web.Response(status=204)

    @r.get("/containers/{id}/top")
    async def top(request: web.Request) -> web.Response:
        return json_response(
            await ops.top(request.match_info["id"], request.query.get("ps_args", ""))
        )

    @r.get("/containers/{id}/changes")
    async def changes(request: web.Request) -> web.Response:
        items = await asyncio.to_thread(ops.changes, request.match_info["id"])
        return json_response(items or None)

    @r.get("/containers/{id}/stats")
    async def get_stats(request: web.Request) -> web.StreamResponse:
        c = ops.get(request.match_info["id"])
        stream = qbool(request, "stream", True)
        one_shot = qbool(request, "one-shot")
        host_mem = stats.host_memory()
        prev: dict[str, Any] | None = None
        preread = "0001-01-01T00:00:00Z"
        cur, read = await ops.stats_sample(c)
        if not stream:
            if not one_shot and cur is not None:
                await asyncio.sleep(1)
                prev, preread = cur, read
                cur, read = await ops.stats_sample(c)
            doc = stats.document(c.id, c.name, read, cur, prev, preread, host_mem)
            return json_response(doc)
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/json"
        await resp.prepare(request)
        with contextlib.suppress(ConnectionError):
            while True:
                doc = stats.document(c.id, c.name, read, cur, prev, preread, host_mem)
                await resp.write(json.dumps(doc).encode() + b"\n")
                if cur is None or not ops.alive(c):
                    break
                await asyncio.sleep(1)
                prev, preread = cur, read
                cur, read = await ops.stats_sample(c)
        return resp

    @r.get("/containers/{id}/export")
    async def export(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/x-tar"
        return await stream_lazily(request, resp, ops.export(request.match_info["id"]))

    @r.head("/containers/{id}/archive")
    async def archive_head(request: web.Request) -> web.Response:
        header = await ops.archive_stat(request.match_info["id"], request.query.get("path", ""))
        return web.Response(status=200, headers={archive.STAT_HEADER: header})

    @r.get("/containers/{id}/archive", allow_head=False)
    async def archive_get(request: web.Request) -> web.StreamResponse:
        path = request.query.get("path", "")
        async with ops.archive_read(request.match_info["id"], path) as (header, chunks):
            resp = web.StreamResponse(status=200)
            resp.content_type = "application/x-tar"
            resp.headers[archive.STAT_HEADER] = header
            await resp.prepare(request)
            async for chunk in chunks:
                await resp.write(chunk)
        await resp.write_eof()
        return resp

    @r.put("/containers/{id}/archive")
    async def archive_put(request: web.Request) -> web.Response:
        # The body is handed over unread: the service refuses a target it cannot
        # extract to before reading it, as dockerd does.
        await ops.archive_write(
            request.match_info["id"],
            request.query.get("path", ""),
            request.content.iter_chunked(1 << 16),
            qbool(request, "noOverwriteDirNonDir"),
        )
        return web.Response(status=200)

    return r
