"""Routes of the per-container operations: resize, pause/unpause, rename, top,
stats, changes, export and archive (docker cp). Wire shapes only; the rules
are in `services/container_ops.py`, `services/stats.py` and `services/archive.py`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from collections.abc import AsyncIterator, Iterator

from aiohttp import web

from dockyard.api.errors import InvalidParameter, NotFound
from dockyard.daemon.server.params import json_response, qbool, qint
from dockyard.daemon.services import archive, cpmounts, stats
from dockyard.daemon.services.container_ops import ContainerOps, export_command
from dockyard.monitor import jsonlog

_ZERO = "0001-01-01T00:00:00Z"


async def _iterate(it: Iterator[bytes]) -> asyncio.Queue[bytes | BaseException | None]:
    """Run a blocking byte iterator in a thread; chunks come through a bounded queue."""
    loop = asyncio.get_running_loop()
    q: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(maxsize=8)

    def run() -> None:
        try:
            for chunk in it:
                if chunk:
                    asyncio.run_coroutine_threadsafe(q.put(chunk), loop).result()
            asyncio.run_coroutine_threadsafe(q.put(None), loop).result()
        except BaseException as exc:  # handed to the request task
            asyncio.run_coroutine_threadsafe(q.put(exc), loop).result()

    loop.run_in_executor(None, run)
    return q


def routes(ops: ContainerOps) -> web.RouteTableDef:
    r = web.RouteTableDef()
    svc = ops.svc

    @r.post("/containers/{id}/resize")
    async def resize(request: web.Request) -> web.Response:
        ops.resize(request.match_info["id"], qint(request, "h", 0) or 0, qint(request, "w", 0) or 0)
        return web.Response(status=200)

    @r.post("/containers/{id}/pause")
    async def pause(request: web.Request) -> web.Response:
        await ops.pause(request.match_info["id"])
        return web.Response(status=204)

    @r.post("/containers/{id}/unpause")
    async def unpause(request: web.Request) -> web.Response:
        await ops.unpause(request.match_info["id"])
        return web.Response(status=204)

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
        c = svc.get(request.match_info["id"])
        stream = qbool(request, "stream", True)
        one_shot = qbool(request, "one-shot")
        host_mem = stats.host_memory()
        prev, preread = None, _ZERO

        def take() -> tuple[dict | None, str]:
            if not c.running:
                return None, _ZERO
            return stats.sample(c.id, int(c.state.get("Pid") or 0)), jsonlog.rfc3339_nano()

        cur, read = await asyncio.to_thread(take)
        if not stream:
            if not one_shot and cur is not None:
                await asyncio.sleep(1)
                prev, preread = cur, read
                cur, read = await asyncio.to_thread(take)
            doc = stats.document(c.id, c.name, read, cur, prev, preread, host_mem)
            return json_response(doc)
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/json"
        await resp.prepare(request)
        with contextlib.suppress(ConnectionError):
            while True:
                doc = stats.document(c.id, c.name, read, cur, prev, preread, host_mem)
                await resp.write(json.dumps(doc).encode() + b"\n")
                if cur is None or svc.closing or c.id not in svc.containers:
                    break
                await asyncio.sleep(1)
                prev, preread = cur, read
                cur, read = await asyncio.to_thread(take)
        return resp

    @r.get("/containers/{id}/export")
    async def export(request: web.Request) -> web.StreamResponse:
        c = svc.get(request.match_info["id"])
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/x-tar"
        async with ops.root(c, live_view=False) as root:
            proc = await asyncio.create_subprocess_exec(
                *export_command(root),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            assert proc.stdout is not None
            try:
                await resp.prepare(request)
                while chunk := await proc.stdout.read(1 << 16):
                    await resp.write(chunk)
            finally:
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                await proc.wait()
        ops.export_event(c)
        await resp.write_eof()
        return resp

    @contextlib.asynccontextmanager
    async def _named(request: web.Request) -> AsyncIterator[None]:
        """Docker's wording: the container as the client named it."""
        try:
            yield
        except archive.PathNotFound as exc:
            raise NotFound(
                f"Could not find the file {exc.path} in container {request.match_info['id']}"
            ) from None

    def _path(request: web.Request) -> str:
        path = request.query.get("path", "")
        if not path:
            raise InvalidParameter("bad parameter: path cannot be empty")
        return path

    @r.head("/containers/{id}/archive")
    async def archive_head(request: web.Request) -> web.Response:
        c = svc.get(request.match_info["id"])
        path = _path(request)
        async with _named(request), ops.root(c) as root:
            header = await asyncio.to_thread(archive.stat_path, root, path)
        return web.Response(status=200, headers={archive.STAT_HEADER: header})

    @r.get("/containers/{id}/archive", allow_head=False)
    async def archive_get(request: web.Request) -> web.StreamResponse:
        c = svc.get(request.match_info["id"])
        path = _path(request)
        async with _named(request), ops.root(c) as root, ops.frozen(c):
            header, chunks = await asyncio.to_thread(archive.tar_path, root, path)
            resp = web.StreamResponse(status=200)
            resp.content_type = "application/x-tar"
            resp.headers[archive.STAT_HEADER] = header
            await resp.prepare(request)
            q = await _iterate(chunks)
            while True:
                item = await q.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                await resp.write(item)
        svc.events.publish("container", "archive-path", c.id, svc.attrs(c))
        await resp.write_eof()
        return resp

    @r.put("/containers/{id}/archive")
    async def archive_put(request: web.Request) -> web.Response:
        c = svc.get(request.match_info["id"])
        path = _path(request)
        cpmounts.check_writable(ops.points(c), path, bool(c.host_config.get("ReadonlyRootfs")))
        no_overwrite = qbool(request, "noOverwriteDirNonDir")
        with tempfile.SpooledTemporaryFile(max_size=8 << 20) as body:
            async for chunk in request.content.iter_chunked(1 << 16):
                body.write(chunk)
            body.seek(0)
            async with _named(request), ops.root(c) as root, ops.frozen(c):
                await asyncio.to_thread(archive.extract, root, path, body, no_overwrite)  # type: ignore[arg-type]
        svc.events.publish("container", "extract-to-dir", c.id, svc.attrs(c))
        return web.Response(status=200)

    return r
