"""/services and /tasks: create, list (with ServiceStatus), inspect, update (and
rollback), remove; tasks list and inspect; logs of a service's or task's containers."""

from __future__ import annotations

from aiohttp import web

from dockyard.daemon.routers.handlers import by_id, doc_by_filters, doc_by_id
from dockyard.daemon.routers.swarm import version_of
from dockyard.daemon.server.params import json_body, json_response, qfilters, qparse_bool
from dockyard.daemon.services.swarm import SwarmService


def routes(swarm: SwarmService) -> web.RouteTableDef:
    r = web.RouteTableDef()

    @r.post("/services/create")
    async def create(request: web.Request) -> web.Response:
        spec = await json_body(request, {}) or {}
        return json_response({"ID": await swarm.create_service(spec), "Warnings": None},
                             status=201)  # fmt: skip

    @r.get("/services")
    async def ls(request: web.Request) -> web.Response:
        return json_response(
            await swarm.services(qfilters(request), qparse_bool(request, "status"))
        )

    r.get("/services/{id}")(doc_by_id(swarm.service))

    @r.post("/services/{id}/update")
    async def update(request: web.Request) -> web.Response:
        version = version_of(request, "service")
        spec = await json_body(request, {}) or {}
        rollback = request.query.get("rollback") == "previous"
        await swarm.update_service(request.match_info["id"], version, spec, rollback)
        return json_response({"Warnings": None})

    r.delete("/services/{id}")(by_id(swarm.remove_service, status=200))
    r.get("/tasks")(doc_by_filters(swarm.tasks))
    r.get("/tasks/{id}")(doc_by_id(swarm.task))

    return r
