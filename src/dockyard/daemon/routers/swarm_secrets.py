"""/secrets and /configs: create, list, inspect, update (labels), remove."""

from __future__ import annotations

from aiohttp import web

from dockyard.daemon.routers.swarm import version_of
from dockyard.daemon.server.params import json_body, json_response, qfilters
from dockyard.daemon.services.swarm import SwarmService


def routes(swarm: SwarmService) -> web.RouteTableDef:
    r = web.RouteTableDef()
    for kind in ("secrets", "configs"):
        _kind_routes(r, swarm, kind)
    return r


def _kind_routes(r: web.RouteTableDef, swarm: SwarmService, kind: str) -> None:
    async def create(request: web.Request) -> web.Response:
        spec = await json_body(request, {}) or {}
        return json_response({"ID": await swarm.create_secret(kind, spec)}, status=201)

    async def ls(request: web.Request) -> web.Response:
        return json_response(await swarm.secrets(kind, qfilters(request)))

    async def inspect(request: web.Request) -> web.Response:
        return json_response(await swarm.secret(kind, request.match_info["id"]))

    async def update(request: web.Request) -> web.Response:
        version = version_of(request, kind[:-1])
        spec = await json_body(request, {}) or {}
        await swarm.update_secret(kind, request.match_info["id"], version, spec)
        return web.Response(status=200)

    async def remove(request: web.Request) -> web.Response:
        await swarm.remove_secret(kind, request.match_info["id"])
        return web.Response(status=204)

    r.post(f"/{kind}/create")(create)
    r.get(f"/{kind}")(ls)
    r.get(f"/{kind}/{{id}}")(inspect)
    r.post(f"/{kind}/{{id}}/update")(update)
    r.delete(f"/{kind}/{{id}}")(remove)
