"""Plugin routes on a daemon that has no plugins: Docker lists none and finds none."""

from __future__ import annotations

from aiohttp import web

from dockyard.api.errors import NotFound
from dockyard.daemon.server.params import json_response


def routes() -> web.RouteTableDef:
    r = web.RouteTableDef()

    @r.get("/plugins")
    async def plugins(request: web.Request) -> web.Response:
        return json_response([])

    @r.get("/plugins/{name}/json")
    async def plugin(request: web.Request) -> web.Response:
        raise NotFound(f'plugin "{request.match_info["name"]}" not found')

    return r
