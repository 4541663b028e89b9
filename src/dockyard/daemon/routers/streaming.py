"""A response streamed from an async iterator of bytes, its headers sent with the
first chunk (or at the end when there is none): an error the source raises before
its first chunk (no such container, a logging driver that cannot be read back)
still reaches the server's error middleware and answers with Docker's status and
message, as dockerd's does, instead of a 200 cut short."""

from __future__ import annotations

from collections.abc import AsyncIterable

from aiohttp import web


async def stream_lazily(
    request: web.Request, resp: web.StreamResponse, chunks: AsyncIterable[bytes]
) -> web.StreamResponse:
    """Write `chunks` to `resp`, prepared when the first one comes, and end it."""
    async for chunk in chunks:
        if not resp.prepared:
            await resp.prepare(request)
        await resp.write(chunk)
    if not resp.prepared:
        await resp.prepare(request)
    await resp.write_eof()
    return resp
