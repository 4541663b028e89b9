"""Handlers for the routes whose whole work is one awaited backend call: act on the
`{id}` and answer a status with no body, show the `{id}`'s document, or list what
the `filters` query selects. The routers declare them where they declare the
others, so each route's method, path and status stay on one line:

    r.get("/networks")(doc_by_filters(svc.list))
    r.delete("/networks/{id}")(by_id(svc.remove, status=204))

The backend's errors pass through unchanged, to the server's error middleware
(Docker's status and `{"message": ...}`), as from any other handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from dockyard.daemon.server.params import json_response, qfilters

Handler = Callable[[web.Request], Awaitable[web.Response]]


def by_id(call: Callable[[str], Awaitable[object]], *, status: int) -> Handler:
    """Await `call({id})` and answer `status` with an empty body."""

    async def handler(request: web.Request) -> web.Response:
        await call(request.match_info["id"])
        return web.Response(status=status)

    return handler


def doc_by_id(call: Callable[[str], Awaitable[Any]]) -> Handler:
    """Answer the JSON of `await call({id})` (an inspect)."""

    async def handler(request: web.Request) -> web.Response:
        return json_response(await call(request.match_info["id"]))

    return handler


def doc_by_filters(call: Callable[[dict[str, list[str]]], Awaitable[Any]]) -> Handler:
    """Answer the JSON of `await call(filters)`, the filters read as dockerd reads them."""

    async def handler(request: web.Request) -> web.Response:
        return json_response(await call(qfilters(request)))

    return handler
