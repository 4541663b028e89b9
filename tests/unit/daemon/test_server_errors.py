"""The API middleware answers every error as JSON `{"message": ...}`: domain errors
with their status, a handler's unexpected exception as a 500, never aiohttp's
plain-text "Server got itself in trouble". A real aiohttp server on a temp socket."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from dockyard.api.errors import Conflict
from dockyard.daemon.server.app import make_app
from tests.unit.daemon.serving import serve_and_ask


def _routes() -> web.RouteTableDef:
    r = web.RouteTableDef()

    @r.get("/boom")
    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    @r.get("/recursion")
    async def recursion(request: web.Request) -> web.Response:
        raise RecursionError("maximum recursion depth exceeded")

    @r.get("/conflict")
    async def conflict(request: web.Request) -> web.Response:
        raise Conflict("in use")

    @r.post("/body")
    async def body(request: web.Request) -> web.Response:
        from dockyard.api.models.volume import VolumeCreateBody
        from dockyard.daemon.server.params import model_body

        return web.json_response(await model_body(request, VolumeCreateBody, {}))

    return r


async def _serve_and_ask(paths: list[tuple[str, str, bytes]]) -> list[tuple[int, str, str]]:
    return await serve_and_ask(make_app([_routes()]), paths)


def test_unhandled_errors_are_json() -> None:
    answers = asyncio.run(
        _serve_and_ask(
            [
                ("GET", "/boom", b""),
                ("GET", "/v1.45/recursion", b""),
                ("GET", "/conflict", b""),
                ("GET", "/nowhere", b""),
                ("DELETE", "/boom", b""),
                ("POST", "/body", b'{"Name":1}'),
                ("POST", "/body", b'{"name":"x","LABELS":{"a":"b"},"other":[1]}'),
            ]
        )
    )
    statuses = [a[0] for a in answers]
    assert statuses == [500, 500, 409, 404, 405, 400, 200], answers
    for status, ctype, text in answers:
        assert ctype == "application/json", (status, text)
        doc = json.loads(text)
        if status >= 400:
            assert isinstance(doc["message"], str) and doc["message"]
    assert "a bug" in json.loads(answers[0][2])["message"]
    assert json.loads(answers[5][2])["message"] == (
        "json: cannot unmarshal number into Go struct field VolumeCreateBody.Name of type string"
    )
    assert json.loads(answers[6][2]) == {"Name": "x", "Labels": {"a": "b"}}
