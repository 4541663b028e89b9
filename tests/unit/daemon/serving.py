"""Serve an aiohttp app on a temp Unix socket for one batch of requests: the
server tests talk to a real server, as clients do."""

from __future__ import annotations

import tempfile
from pathlib import Path

import aiohttp
from aiohttp import web


async def serve_and_ask(
    app: web.Application, requests: list[tuple[str, str, bytes]]
) -> list[tuple[int, str, str]]:
    """(method, path, body) each -> (status, content type, text), in order."""
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
                        out.append((resp.status, resp.content_type, await resp.text()))
        finally:
            await runner.cleanup()
        return out
