"""The API middleware shapes answers per API version through api/versions.py: a
real aiohttp server on a temp socket, a route answering a service's own state."""

from __future__ import annotations

import asyncio
import copy
import json

from aiohttp import web

from dockyard.daemon.server.app import make_app
from dockyard.daemon.server.params import json_response
from tests.unit.daemon.serving import serve_and_ask

# What a service keeps and hands out as it is (a container's HostConfig is one).
STATE = {
    "Id": "0123456789abcdef",
    "HostConfig": {"NetworkMode": "n"},
    "NetworkSettings": {"Networks": {"n": {"Aliases": None, "DNSNames": ["c"]}}},
}


def _routes() -> web.RouteTableDef:
    r = web.RouteTableDef()

    @r.get("/containers/{id}/json")
    async def inspect(request: web.Request) -> web.Response:
        return json_response(STATE)

    return r


async def _ask(paths: list[str]) -> list[dict]:
    answers = await serve_and_ask(make_app([_routes()]), [("GET", p, b"") for p in paths])
    return [json.loads(text) for _, _, text in answers]


def test_old_versions_are_shaped_and_the_service_s_state_is_left_alone() -> None:
    before = copy.deepcopy(STATE)
    old, new = asyncio.run(_ask(["/v1.41/containers/x/json", "/v1.45/containers/x/json"]))
    assert old["HostConfig"]["KernelMemory"] == 0
    assert old["NetworkSettings"]["Networks"]["n"] == {"Aliases": ["0123456789ab"]}
    assert "KernelMemory" not in new["HostConfig"]
    assert new["NetworkSettings"]["Networks"]["n"] == {"Aliases": None, "DNSNames": ["c"]}
    assert STATE == before
