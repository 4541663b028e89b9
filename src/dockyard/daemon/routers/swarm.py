"""/swarm: init, join, leave, inspect, update, unlock and the unlock key (moby's
swarm router); the node's membership is `cluster.node.ClusterNode`."""

from __future__ import annotations

from aiohttp import web

from dockyard.api.errors import InvalidParameter
from dockyard.cluster.node import ClusterNode
from dockyard.daemon.server.params import json_body, json_response, qbool, qint
from dockyard.daemon.services.swarm import SwarmService


def version_of(request: web.Request, what: str) -> int:
    v = qint(request, "version")
    if v is None:
        raise InvalidParameter(f"invalid {what} version '{request.query.get('version', '')}'")
    return v


def routes(node: ClusterNode, swarm: SwarmService) -> web.RouteTableDef:
    r = web.RouteTableDef()

    @r.get("/swarm")
    async def inspect(request: web.Request) -> web.Response:
        return json_response(await swarm.inspect())

    @r.post("/swarm/init")
    async def init(request: web.Request) -> web.Response:
        node_id = await node.init(await json_body(request, {}) or {})
        return json_response(node_id)

    @r.post("/swarm/join")
    async def join(request: web.Request) -> web.Response:
        await node.join(await json_body(request, {}) or {})
        return web.Response(status=200)

    @r.post("/swarm/leave")
    async def leave(request: web.Request) -> web.Response:
        await node.leave(qbool(request, "force"))
        return web.Response(status=200)

    @r.post("/swarm/update")
    async def update(request: web.Request) -> web.Response:
        version = version_of(request, "swarm")
        rotate = {what for what, q in (("Worker", "rotateWorkerToken"),
                                       ("Manager", "rotateManagerToken"),
                                       ("UnlockKey", "rotateManagerUnlockKey"))
                  if qbool(request, q)}  # fmt: skip
        await swarm.update(version, await json_body(request, {}) or {}, rotate)
        return web.Response(status=200)

    @r.get("/swarm/unlockkey")
    async def unlockkey(request: web.Request) -> web.Response:
        return json_response({"UnlockKey": await swarm.unlock_key()})

    @r.post("/swarm/unlock")
    async def unlock(request: web.Request) -> web.Response:
        body = await json_body(request, {}) or {}
        await node.unlock(str(body.get("UnlockKey") or ""))
        return web.Response(status=200)

    return r
