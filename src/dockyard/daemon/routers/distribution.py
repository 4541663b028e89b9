"""The distribution router: `POST /images/{name}/push`, `POST /auth`,
`GET /distribution/{name}/json`, and the streaming answer to
`POST /images/create?fromImage=` (the images router hands that branch here).

Streams follow dockerd: nothing is written until the first progress message,
so an error before it (bad reference, unknown repository, docker.io refused)
is an ordinary HTTP error; after it, errors go inline as `errorDetail`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from dockyard.api.errors import DockyardError, InvalidParameter
from dockyard.api.models.auth import AuthConfig
from dockyard.daemon.server.params import json_response, model_body, qint
from dockyard.registry.client import progress as pm

Emit = Callable[[dict[str, Any]], None]


class DistributionBackend(Protocol):
    async def pull(
        self, from_image: str, tag: str, platform: str, auth_header: str | None, emit: Emit
    ) -> None: ...

    async def push(self, name: str, tag: str, auth_header: str | None, emit: Emit) -> None: ...

    async def login(self, body: dict[str, Any]) -> dict[str, Any]: ...

    async def inspect(self, name: str, auth_header: str | None) -> dict[str, Any]: ...

    async def search(
        self, term: str, limit: int, filters: dict[str, list[str]], auth_header: str | None
    ) -> list[dict[str, Any]]: ...


async def stream_progress(
    request: web.Request, run: Callable[[Emit], Awaitable[None]]
) -> web.StreamResponse:
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    task = asyncio.ensure_future(run(queue.put_nowait))
    task.add_done_callback(lambda _t: queue.put_nowait(None))
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    try:
        while True:
            msg = await queue.get()
            if msg is None:
                break
            if not resp.prepared:
                await resp.prepare(request)
            await resp.write(pm.encode(msg))
        exc = task.exception()
        if exc is not None:
            if not resp.prepared:
                raise exc
            message = exc.message if isinstance(exc, DockyardError) else str(exc)
            await resp.write(pm.encode(pm.error(message)))
        if not resp.prepared:
            await resp.prepare(request)
        await resp.write_eof()
        return resp
    finally:
        if not task.done():
            task.cancel()


def pull_handler(
    backend: DistributionBackend,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def pull(request: web.Request) -> web.StreamResponse:
        q = request.query
        return await stream_progress(
            request,
            lambda emit: backend.pull(
                q.get("fromImage", ""),
                q.get("tag", ""),
                q.get("platform", ""),
                request.headers.get("X-Registry-Auth"),
                emit,
            ),
        )

    return pull


def routes(backend: DistributionBackend) -> web.RouteTableDef:
    r = web.RouteTableDef()

    @r.post("/images/{name:.+}/push")
    async def push(request: web.Request) -> web.StreamResponse:
        return await stream_progress(
            request,
            lambda emit: backend.push(
                request.match_info["name"],
                request.query.get("tag", ""),
                request.headers.get("X-Registry-Auth"),
                emit,
            ),
        )

    @r.get("/images/search")
    async def search(request: web.Request) -> web.Response:
        q = request.query
        raw = q.get("filters") or "{}"
        try:
            filters = json.loads(raw)
        except json.JSONDecodeError:
            raise InvalidParameter(f"invalid filters: {raw}") from None
        if not isinstance(filters, dict):
            raise InvalidParameter(f"invalid filters: {raw}")
        # {"stars": {"3": true}} (the CLI) or {"stars": ["3"]}
        filters = {
            k: list(v) if isinstance(v, (dict, list)) else [str(v)] for k, v in filters.items()
        }
        return json_response(
            await backend.search(
                q.get("term", ""), qint(request, "limit", 25), filters,
                request.headers.get("X-Registry-Auth"),
            )
        )  # fmt: skip

    @r.post("/auth")
    async def auth(request: web.Request) -> web.Response:
        return json_response(await backend.login(await model_body(request, AuthConfig, {})))

    @r.get("/distribution/{name:.+}/json")
    async def inspect(request: web.Request) -> web.Response:
        return json_response(
            await backend.inspect(
                request.match_info["name"], request.headers.get("X-Registry-Auth")
            )
        )

    return r
