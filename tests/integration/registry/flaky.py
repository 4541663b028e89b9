"""A loopback HTTP proxy in front of a registry that records what clients ask
for (blob GETs per digest, their Range headers, upload PATCHes) and, as told,
cuts the first response of each blob GET halfway through (headers promise the
full length, the socket closes mid-body), sends blob bodies slowly, or holds
each upload PATCH's answer back for a while (so a test can kill the client in
between)."""

from __future__ import annotations

import asyncio
import collections
import re
import threading

import aiohttp
from aiohttp import web

from tests.integration.registry.peers import free_port


class Proxy:
    def __init__(
        self,
        upstream: str,
        cut_first: bool = False,
        blob_rate: int = 0,
        patch_delay: float = 0.0,
    ) -> None:
        self.upstream = upstream
        self.cut_first = cut_first
        self.blob_rate = blob_rate  # bytes per second of blob GET bodies (0: full speed)
        self.patch_delay = patch_delay
        self.port = free_port()
        self.cut: set[str] = set()
        self.ranges: list[str] = []
        self.gets: collections.Counter[str] = collections.Counter()
        self.sent: collections.Counter[str] = collections.Counter()  # blob body bytes sent
        self.patches: list[tuple[str, int]] = []  # (Content-Range, body length) passed on
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Proxy:
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
        if blob and request.method == "GET":
            self.gets[blob.group(1)] += 1
            if "Range" in request.headers:
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
                if request.method == "PATCH" and up.status < 300:
                    self.patches.append((request.headers.get("Content-Range", ""), len(body)))
                    await asyncio.sleep(self.patch_delay)
                if blob and request.method == "GET" and self.blob_rate and up.status < 300:
                    return await self._slowly(request, up.status, out_headers, data, blob.group(1))
                if (
                    self.cut_first
                    and blob
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

    async def _slowly(
        self, request: web.Request, status: int, headers: dict[str, str], data: bytes, digest: str
    ) -> web.StreamResponse:
        resp = web.StreamResponse(status=status, headers=headers)
        resp.content_length = len(data)
        await resp.prepare(request)
        piece = max(1, self.blob_rate // 20)
        for i in range(0, len(data), piece):
            await resp.write(data[i : i + piece])
            self.sent[digest] += len(data[i : i + piece])
            await asyncio.sleep(0.05)
        return resp


class FlakyProxy(Proxy):
    """Cuts the first response of each blob GET halfway through."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream, cut_first=True)
