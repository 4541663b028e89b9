"""/nodes: list, inspect, update, remove."""

from __future__ import annotations

from aiohttp import web

from dockyard.daemon.routers.swarm import version_of
from dockyard.daemon.server.params import json_body, json_response, qbool, qfilters
from dockyard.daemon.services.swarm import SwarmService


def routes(swarm: SwarmService) -> web.RouteTableDef:
    r = web.RouteTableDef()

    @r.get("/nodes")
    async def ls(request: web.Request) -> web.Response:
        return json_response(await swarm.nodes(qfilters(request)))

    @r.get("/nodes/{id}")
    async def inspect(request: web.Request) -> web.Response:
        return json_response(await swarm.inspect_node(request.match_info["id"]))

    @r.post("/nodes/{id}/update")
    async def update(request: web.Request) -> web.Response:
        version = version_of(request, "node")
        await swarm.update_node(request.match_info["id"], version,
                                await json_body(request, {}) or {})  # fmt: skip
        return web.Response(status=200)

    @r.delete("/nodes/{id}")
    async def remove(request: web.Request) -> web.Response:
        await swarm.remove_node(request.match_info["id"], qbool(request, "force"))
        return web.Response(status=200)

    return r
