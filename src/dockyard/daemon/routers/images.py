"""The images router: Engine API `/images/...` (the newest shapes; the server reshapes them for older API versions). Routes are a
table over the narrow `ImagesBackend`; names in paths may hold slashes
(`/images/localhost:5000/foo/bar/json`), hence the `{name:.+}` patterns."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from dockyard.api.backend import ImportConfig
from dockyard.api.errors import DockyardError, InvalidParameter
from dockyard.daemon.routers.handlers import doc_by_filters
from dockyard.daemon.server.params import json_response, qbool, qfilters


class ImagesBackend(Protocol):
    async def import_image(self, req: ImportConfig) -> str: ...

    async def pull(self, from_image: str, tag: str = "", platform: str = "") -> None: ...

    def list_images(
        self,
        show_all: bool = False,
        filters: dict[str, list[str]] | None = None,
        digests: bool = False,
    ) -> list[dict[str, Any]]: ...

    def inspect(self, name: str) -> dict[str, Any]: ...

    def history(self, name: str) -> list[dict[str, Any]]: ...

    async def tag(self, name: str, repo: str, tag: str = "") -> None: ...

    async def delete(
        self, name: str, force: bool = False, noprune: bool = False
    ) -> list[dict[str, str]]: ...


def _status_line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode() + b"\r\n"


def routes(
    backend: ImagesBackend,
    pull: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None,
) -> web.RouteTableDef:
    """`pull`, if given, answers `POST /images/create?fromImage=` (the distribution router)."""
    r = web.RouteTableDef()

    @r.post("/images/create")
    async def create(request: web.Request) -> web.StreamResponse:
        q = request.query
        from_src = q.get("fromSrc", "")
        from_image = q.get("fromImage", "")
        platform = q.get("platform", "")
        if from_src:
            if from_src != "-":
                raise InvalidParameter(
                    f"importing from a URL ({from_src}) is not supported: send the archive as the request body"
                )
            image_id = await backend.import_image(
                ImportConfig(
                    request.content.iter_chunked(1 << 20),
                    repo=q.get("repo", ""),
                    tag=q.get("tag", ""),
                    changes=q.getall("changes", []),
                    message=q.get("message", ""),
                    platform=platform,
                )
            )
            return web.Response(
                body=_status_line({"status": image_id}), content_type="application/json"
            )
        if from_image and pull is not None:
            return await pull(request)
        if from_image:
            await backend.pull(from_image, q.get("tag", ""), platform)
            return web.Response(body=b"", content_type="application/json")
        raise InvalidParameter("either fromSrc or fromImage must be given")

    @r.get("/images/json")
    async def list_(request: web.Request) -> web.Response:
        out = backend.list_images(
            show_all=qbool(request, "all"),
            filters=qfilters(request),
            digests=qbool(request, "digests"),
        )
        return json_response(out)

    @r.get("/images/{name:.+}/json")
    async def inspect(request: web.Request) -> web.Response:
        return json_response(backend.inspect(request.match_info["name"]))

    @r.get("/images/{name:.+}/history")
    async def history(request: web.Request) -> web.Response:
        return json_response(backend.history(request.match_info["name"]))

    @r.post("/images/{name:.+}/tag")
    async def tag(request: web.Request) -> web.Response:
        await backend.tag(
            request.match_info["name"], request.query.get("repo", ""), request.query.get("tag", "")
        )
        return web.Response(status=201)

    @r.delete("/images/{name:.+}")
    async def delete(request: web.Request) -> web.Response:
        out = await backend.delete(
            request.match_info["name"],
            force=qbool(request, "force"),
            noprune=qbool(request, "noprune"),
        )
        return json_response(out)

    async def _save(request: web.Request, names: list[str]) -> web.StreamResponse:
        plan = backend.save_plan(names)
        resp = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
        await resp.prepare(request)
        await backend.save(plan, resp.write)
        await resp.write_eof()
        return resp

    @r.get("/images/get")
    async def save_many(request: web.Request) -> web.StreamResponse:
        return await _save(request, request.query.getall("names", []))

    @r.get("/images/{name:.+}/get")
    async def save_one(request: web.Request) -> web.StreamResponse:
        return await _save(request, [request.match_info["name"]])

    @r.post("/images/load")
    async def load(request: web.Request) -> web.StreamResponse:
        # dockerd answers 200 and reports a failed load inside the JSON stream.
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        pending: list[bytes] = []

        def progress(message: dict[str, Any]) -> None:
            pending.append(_status_line(message))

        async def flush() -> None:
            if pending:
                if not resp.prepared:
                    await resp.prepare(request)
                data = b"".join(pending)
                pending.clear()
                await resp.write(data)

        task = asyncio.ensure_future(
            backend.load(
                request.content.iter_chunked(1 << 20),
                request.query.get("platform", ""),
                None if qbool(request, "quiet") else progress,
            )
        )
        try:
            while not task.done():
                await asyncio.wait([task], timeout=0.2)
                await flush()
            lines = task.result()
        except DockyardError as exc:
            if not resp.prepared:
                await resp.prepare(request)
            await resp.write(
                _status_line({"errorDetail": {"message": exc.message}, "error": exc.message})
            )
            return resp
        finally:
            if not task.done():
                task.cancel()
        await flush()
        if not resp.prepared:
            await resp.prepare(request)
        for line in lines:
            await resp.write(_status_line({"stream": line + "\n"}))
        await resp.write_eof()
        return resp

    r.post("/images/prune")(doc_by_filters(backend.prune))

    return r
