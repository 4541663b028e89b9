"""/nodes: list, inspect, update, remove."""

from __future__ import annotations

from aiohttp import web

from dockyard.daemon.routers.handlers import doc_by_filters, doc_by_id
from dockyard.daemon.routers.swarm import version_of
from dockyard.daemon.server.params import json_body, qbool
from dockyard.daemon.services.swarm import SwarmService


def routes(swarm: SwarmService) -> web.RouteTableDef:
    r = web.RouteTableDef()

    r.get("/nodes")(doc_by_filters(swarm.nodes))
    r.get("/nodes/{id}")(doc_by_id(swarm.inspect_node))

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
