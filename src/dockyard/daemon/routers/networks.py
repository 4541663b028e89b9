"""The networks router: Engine API `/networks/...` over the narrow NetworksBackend."""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from dockyard.api.models.network import NetworkConnect, NetworkCreateRequest, NetworkDisconnect
from dockyard.daemon.routers.handlers import by_id, doc_by_filters, doc_by_id
from dockyard.daemon.server.params import json_response, model_body, qfilters


class NetworksBackend(Protocol):
    async def list(self, filters: dict[str, list[str]]) -> list[dict[str, Any]]: ...

    async def inspect(self, ref: str) -> dict[str, Any]: ...

    async def create(self, body: dict[str, Any]) -> dict[str, str]: ...

    async def remove(self, ref: str) -> None: ...

    async def prune(self, filters: dict[str, list[str]]) -> list[str]: ...

    async def connect(self, ref: str, body: dict[str, Any]) -> None: ...

    async def disconnect(self, ref: str, body: dict[str, Any]) -> None: ...


def routes(svc: NetworksBackend) -> web.RouteTableDef:
    r = web.RouteTableDef()

    r.get("/networks")(doc_by_filters(svc.list))
    r.get("/networks/{id}")(doc_by_id(svc.inspect))

    @r.post("/networks/create")
    async def create(request: web.Request) -> web.Response:
        return json_response(
            await svc.create(await model_body(request, NetworkCreateRequest, {})), status=201
        )

    r.delete("/networks/{id}")(by_id(svc.remove, status=204))

    @r.post("/networks/prune")
    async def prune(request: web.Request) -> web.Response:
        return json_response({"NetworksDeleted": await svc.prune(qfilters(request))})

    @r.post("/networks/{id}/connect")
    async def connect(request: web.Request) -> web.Response:
        await svc.connect(request.match_info["id"], await model_body(request, NetworkConnect, {}))
        return web.Response(status=200)

    @r.post("/networks/{id}/disconnect")
    async def disconnect(request: web.Request) -> web.Response:
        await svc.disconnect(
            request.match_info["id"], await model_body(request, NetworkDisconnect, {})
        )
        return web.Response(status=200)

    return r
