"""Docker's hijacked connections (`Connection: Upgrade`, `Upgrade: tcp`).

After `101 UPGRADED` the socket carries raw bytes both ways: output written
with `HijackedStream.write`, input read with `read` until the client
half-closes. aiohttp hands raw bytes to a payload parser once a connection is
upgraded; `_RawReader` is that parser. A client that does not ask to upgrade
(docker-py's non-upgraded attach, old clients) gets a plain 200 stream.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


class _RawReader:
    def __init__(self, queue: asyncio.Queue[bytes | None]) -> None:
        self._queue = queue

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._queue.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self._queue.put_nowait(None)


class HijackedStream:
    def __init__(self, request: web.Request, response: web.StreamResponse, upgraded: bool) -> None:
        self._request = request
        self.response = response
        self.upgraded = upgraded
        self._input: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._eof = False
        if upgraded:
            request.protocol.set_parser(_RawReader(self._input))  # type: ignore[arg-type]
        else:
            self._input.put_nowait(None)

    async def write(self, data: bytes) -> None:
        await self.response.write(data)

    async def read(self) -> bytes:
        """The next chunk of client input; b"" at end of input."""
        if self._eof:
            return b""
        chunk = await self._input.get()
        if chunk is None:
            self._eof = True
            return b""
        return chunk

    def close(self) -> None:
        transport = self._request.transport
        if transport is not None and not transport.is_closing():
            transport.close()


async def hijack(request: web.Request, content_type: str) -> HijackedStream:
    upgrade = request.headers.get("Upgrade", "").lower() == "tcp"
    if upgrade:
        resp = web.StreamResponse(status=101, reason="UPGRADED")
        resp.headers["Connection"] = "Upgrade"
        resp.headers["Upgrade"] = "tcp"
    else:
        resp = web.StreamResponse(status=200)
    resp.headers["Content-Type"] = content_type
    resp.enable_compression = False  # type: ignore[assignment]
    await resp.prepare(request)
    return HijackedStream(request, resp, upgrade)
