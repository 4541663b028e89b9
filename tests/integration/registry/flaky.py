"""A loopback HTTP proxy in front of a registry that cuts the first response of
each blob GET halfway through (headers promise the full length, the socket
closes mid-body), and records the Range headers clients send afterwards."""

from __future__ import annotations

import asyncio
import re
import threading

import aiohttp
from aiohttp import web

from tests.integration.registry.peers import free_port


class FlakyProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.cut: set[str] = set()
        self.ranges: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application(client_max_size=1 << 34)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        }
        blob = re.search(r"/blobs/(sha256:[0-9a-f]{64})$", request.path)
        if blob and request.method == "GET" and "Range" in request.headers:
            self.ranges.append(request.headers["Range"])
        body = await request.read()
        async with aiohttp.ClientSession(auto_decompress=False) as s:
            async with s.request(
                request.method, self.upstream + request.path_qs, headers=headers, data=body or None,
                allow_redirects=False,
            ) as up:  # fmt: skip
                data = await up.read()
                out_headers = {
                    k: v
                    for k, v in up.headers.items()
                    if k.lower() not in ("transfer-encoding", "content-encoding", "server", "date")
                }
                if (
                    blob
                    and request.method == "GET"
                    and blob.group(1) not in self.cut
                    and len(data) > 1024
                ):
                    self.cut.add(blob.group(1))
                    resp = web.StreamResponse(status=up.status, headers=out_headers)
                    resp.content_length = len(data)
                    await resp.prepare(request)
                    await resp.write(data[: len(data) // 2])
                    await asyncio.sleep(0.05)
                    assert request.transport is not None
                    request.transport.close()
                    return resp
                return web.Response(status=up.status, body=data, headers=out_headers)
