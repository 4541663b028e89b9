"""An HTTP request body handed from the event loop to a worker thread (`docker import`,
`docker load`): read in order by the thread as a file, with bounded memory (a few MiB
in flight), and let go at once when the worker stops reading.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from dockyard.api.errors import InvalidParameter

__all__ = ["BodyPipe", "read_in_thread"]

T = TypeVar("T")

_EOF = object()


class BodyPipe:
    """An HTTP body handed from the event loop to a worker thread, in order,
    with bounded memory (a few MiB in flight)."""

    def __init__(self, depth: int = 8) -> None:
        self._q: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._buf = b""
        self._eof = False
        self.closed = threading.Event()

    # worker side
    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            out = bytearray()
            while chunk := self.read(1 << 20):
                out += chunk
            return bytes(out)
        while not self._buf and not self._eof:
            item = self._q.get()
            if item is _EOF:
                self._eof = True
            elif isinstance(item, BaseException):
                self._eof = True
                raise InvalidParameter(f"error reading request body: {item}")
            else:
                self._buf = item  # type: ignore[assignment]
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def close_reader(self) -> None:
        """The worker is done: let a blocked feeder go, discard what is queued."""
        self.closed.set()
        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass

    # loop side
    async def feed(self, body: AsyncIterator[bytes]) -> None:
        try:
            async for chunk in body:
                if self.closed.is_set():
                    break
                if chunk:
                    await self._put(chunk)
        except BaseException as exc:
            await self._put(exc)
            raise
        await self._put(_EOF)

    async def _put(self, item: object) -> None:
        try:
            self._q.put_nowait(item)
        except queue.Full:
            await asyncio.to_thread(self._put_blocking, item)

    def _put_blocking(self, item: object) -> None:
        while not self.closed.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue


async def read_in_thread(body: AsyncIterator[bytes], work: Callable[[BodyPipe], T]) -> T:
    """`work(pipe)` in a worker thread while `body` is fed into the pipe on the loop;
    its result. The pipe lets go of the body once `work` ends; if feeding fails, the
    worker is waited for (it sees the error as InvalidParameter) before the error goes on."""
    pipe = BodyPipe()

    def run() -> T:
        try:
            return work(pipe)
        finally:
            pipe.close_reader()

    worker = asyncio.ensure_future(asyncio.to_thread(run))
    try:
        await pipe.feed(body)
    except BaseException:
        await asyncio.wait([worker])
        raise
    return await worker
