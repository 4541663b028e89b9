"""`GET /system/df`: disk usage by images, containers, volumes and build cache
(the `type` query parameter, API 1.42+, narrows it)."""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from dockyard.api import version
from dockyard.daemon.server.app import API_VERSION_KEY
from dockyard.daemon.server.params import json_response


class DiskUsageBackend(Protocol):
    async def usage(self, types: list[str] | None = None) -> dict[str, Any]: ...


def routes(backend: DiskUsageBackend) -> web.RouteTableDef:
    r = web.RouteTableDef()

    @r.get("/system/df")
    async def df(request: web.Request) -> web.Response:
        out = await backend.usage(request.query.getall("type", []) or None)
        if version.less_than(request[API_VERSION_KEY], "1.44"):
            for s in out.get("Images") or []:
                s["VirtualSize"] = s["Size"]
        return json_response(out)

    return r
