"""Serve an aiohttp app on a temp Unix socket for one batch of requests: the
server tests talk to a real server, as clients do."""

from __future__ import annotations

import tempfile
from pathlib import Path

import aiohttp
from aiohttp import web


async def serve_raw(
    app: web.Application, requests: list[tuple[str, str, bytes]]
) -> list[tuple[int, dict[str, str], bytes]]:
    """(method, path, body) each -> (status, headers, body bytes), in order."""
    with tempfile.TemporaryDirectory() as d:
        sock = str(Path(d) / "api.sock")
        runner = web.AppRunner(app)
        await runner.setup()
        await web.UnixSite(runner, sock).start()
        out = []
        try:
            async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=sock)) as s:
                for method, path, body in requests:
                    async with s.request(method, "http://d" + path, data=body) as resp:
                        out.append((resp.status, dict(resp.headers), await resp.read()))
        finally:
            await runner.cleanup()
        return out


async def serve_and_ask(
    app: web.Application, requests: list[tuple[str, str, bytes]]
) -> list[tuple[int, str, str]]:
    """(method, path, body) each -> (status, content type, text), in order."""
    return [
        (status, _content_type(headers), body.decode())
        for status, headers, body in await serve_raw(app, requests)
    ]


def _content_type(headers: dict[str, str]) -> str:
    """As aiohttp's ClientResponse.content_type: the media type, octet-stream if none."""
    return headers.get("Content-Type", "application/octet-stream").split(";")[0].strip().lower()
