"""`GET /system/df`: disk usage by images, containers, volumes and build cache
(the `type` query parameter, API 1.42+, narrows it)."""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from dockyard.daemon.server.params import json_response


class DiskUsageBackend(Protocol):
    async def usage(self, types: list[str] | None = None) -> dict[str, Any]: ...


def routes(backend: DiskUsageBackend) -> web.RouteTableDef:
    r = web.RouteTableDef()

    @r.get("/system/df")
    async def df(request: web.Request) -> web.Response:
        return json_response(await backend.usage(request.query.getall("type", []) or None))

    return r
