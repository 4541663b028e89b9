"""routers/streaming.py: a streamed answer whose headers go with its first chunk, so
that a source failing before any output answers Docker's error, not a cut 200."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from aiohttp import web

from dockyard.api.errors import Conflict
from dockyard.daemon.routers.streaming import stream_lazily
from tests.unit.daemon.routers.fakes import ask, chunks


async def _failing() -> AsyncIterator[bytes]:
    raise Conflict("configured logging driver does not support reading")
    yield b""  # an async generator, failing at its first step


def _table() -> web.RouteTableDef:
    r = web.RouteTableDef()
    sources = {"parts": lambda: chunks(b"a", b"b"), "none": chunks, "fails": _failing}

    @r.get("/{what}")
    async def serve(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/x-tar"
        return await stream_lazily(request, resp, sources[request.match_info["what"]]())

    return r


def test_chunks_empty_and_a_source_that_fails_before_its_first_chunk() -> None:
    parts, empty, fails = asyncio.run(
        ask([_table()], [("GET", f"/{w}", b"") for w in ("parts", "none", "fails")])
    )
    assert parts.status == 200 and parts.body == b"ab"
    assert parts.headers["Content-Type"] == "application/x-tar"
    assert empty.status == 200 and empty.body == b""
    assert fails.status == 409
    assert json.loads(fails.body)["message"] == "configured logging driver does not support reading"
