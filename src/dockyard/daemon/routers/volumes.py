"""The volumes router: Engine API `/volumes/...` over the narrow VolumesBackend."""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from dockyard.api.models.volume import VolumeCreateBody
from dockyard.daemon.server.params import json_response, model_body, qbool, qfilters


class VolumesBackend(Protocol):
    def list(self, filters: dict[str, list[str]]) -> dict[str, Any]: ...

    def inspect(self, name: str) -> dict[str, Any]: ...

    def create(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def remove(self, name: str, force: bool = False) -> None: ...

    def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]: ...


def routes(svc: VolumesBackend) -> web.RouteTableDef:
    r = web.RouteTableDef()

    @r.get("/volumes")
    async def list_volumes(request: web.Request) -> web.Response:
        return json_response(svc.list(qfilters(request)))

    @r.post("/volumes/create")
    async def create(request: web.Request) -> web.Response:
        return json_response(
            svc.create(await model_body(request, VolumeCreateBody, {})), status=201
        )

    @r.post("/volumes/prune")
    async def prune(request: web.Request) -> web.Response:
        return json_response(svc.prune(qfilters(request)))

    @r.get("/volumes/{name}")
    async def inspect(request: web.Request) -> web.Response:
        return json_response(svc.inspect(request.match_info["name"]))

    @r.delete("/volumes/{name}")
    async def remove(request: web.Request) -> web.Response:
        svc.remove(request.match_info["name"], qbool(request, "force"))
        return web.Response(status=204)

    return r
