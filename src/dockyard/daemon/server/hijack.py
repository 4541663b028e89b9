"""Docker's hijacked connections (`Connection: Upgrade`, `Upgrade: tcp`).

After `101 UPGRADED` the socket carries raw bytes both ways: output written
with `HijackedStream.write`, input read with `read` until the client
half-closes. aiohttp hands raw bytes to a payload parser once a connection is
upgraded; `_RawReader` is that parser. A half-close from the client ends the input
only; output goes on until the stream is done. Past `INPUT_LIMIT` bytes of input
not yet taken, the socket is not read (the client waits, not the daemon's memory). A client that does not ask to upgrade
(docker-py's non-upgraded attach, old clients) gets a plain 200 stream.

The first output waits until the client has read the upgrade's headers (on a Unix
socket: the kernel's count of bytes the peer has not read, SIOCOUTQ, is 0).
docker-py reads the headers through http.client's buffered file and the frames
from the raw socket: a frame that arrives with the headers stays in that buffer
and is lost (`attach(stream=False, logs=True)` returned b"" in 14 of 20 here;
dockerd 20.10 lost it in 30 of 30 on an exited container). A client that does not read within
`HEADERS_READ_WAIT` gets the output anyway; TCP has no such count (its send queue
empties when the peer's kernel acknowledges, not when the client reads).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import struct
import termios
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from dockyard.daemon.services.outputs import Subscription
from dockyard.proto import detachkeys, stdcopy

MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


INPUT_LIMIT = 1 << 20  # bytes of client input held before the socket is not read
HEADERS_READ_WAIT = 2.0  # seconds the first output waits for the client to read the headers


class _RawReader:
    def __init__(self, feed: Callable[[bytes | None], None]) -> None:
        self._feed = feed

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._feed(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self._feed(None)


class _HalfCloseAware(asyncio.Protocol):
    """Delegates to aiohttp's protocol, but keeps the socket open on the peer's EOF."""

    def __init__(self, inner: asyncio.Protocol, on_eof: Callable[[], bool]) -> None:
        self._inner = inner
        self._on_eof = on_eof

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool:
        return self._on_eof()

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_eof()
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class HijackedStream:
    def __init__(self, request: web.Request, response: web.StreamResponse, upgraded: bool) -> None:
        self._request = request
        self.response = response
        self.upgraded = upgraded
        self._input: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._held = 0  # bytes of input queued: past INPUT_LIMIT the socket is not read
        self._paused = False
        self._eof = False
        self._headers_read = not upgraded
        if upgraded:
            protocol = request.protocol
            protocol.set_parser(_RawReader(self._feed))  # type: ignore[arg-type]
            # A client half-closes when its stdin ends (docker's CloseWrite). asyncio
            # closes the whole socket unless eof_received returns True, and
            # aiohttp's returns None; on a hijacked connection, EOF only ends input.
            transport = request.transport
            assert transport is not None
            transport.set_protocol(_HalfCloseAware(protocol, self._on_eof))
        else:
            self._input.put_nowait(None)

    def _on_eof(self) -> bool:
        self._input.put_nowait(None)
        return True

    def _feed(self, data: bytes | None) -> None:
        self._input.put_nowait(data)
        if data:
            self._held += len(data)
            if self._held > INPUT_LIMIT and not self._paused:
                transport = self._request.transport
                if transport is not None and not transport.is_closing():
                    transport.pause_reading()
                    self._paused = True

    async def write(self, data: bytes) -> None:
        if not self._headers_read:
            await self._until_headers_read()
        await self.response.write(data)

    async def _until_headers_read(self) -> None:
        self._headers_read = True
        transport = self._request.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is None or sock.family != socket.AF_UNIX:
            return
        deadline = time.monotonic() + HEADERS_READ_WAIT
        pause = 0.0005
        while not transport.is_closing() and time.monotonic() < deadline:
            if transport.get_write_buffer_size() == 0 and _unread(sock.fileno()) == 0:
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.02)

    async def read(self) -> bytes:
        """The next chunk of client input; b"" at end of input."""
        if self._eof:
            return b""
        chunk = await self._input.get()
        if chunk is None:
            self._eof = True
            return b""
        self._held -= len(chunk)
        if self._paused and self._held < INPUT_LIMIT // 2:
            transport = self._request.transport
            if transport is not None and not transport.is_closing():
                transport.resume_reading()
            self._paused = False
        return chunk

    def close(self) -> None:
        transport = self._request.transport
        if transport is not None and not transport.is_closing():
            transport.close()


def _unread(fd: int) -> int:
    """Bytes sent on a Unix socket that its peer has not read yet (SIOCOUTQ)."""
    try:
        buf = fcntl.ioctl(fd, termios.TIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return 0
    return int(struct.unpack("i", buf)[0])


async def hijack(request: web.Request, content_type: str) -> HijackedStream:
    upgrade = request.headers.get("Upgrade", "").lower() == "tcp"
    if upgrade:
        resp = web.StreamResponse(status=101, reason="UPGRADED")
        resp.headers["Connection"] = "Upgrade"
        resp.headers["Upgrade"] = "tcp"
    else:
        resp = web.StreamResponse(status=200)
    resp.headers["Content-Type"] = content_type
    # Take over input before the headers go out: the client may send its stdin
    # and half-close as soon as it reads them.
    stream = HijackedStream(request, resp, upgrade)
    await resp.prepare(request)
    return stream


async def relay(
    stream: HijackedStream,
    frames: Subscription,
    want: set[int],
    tty: bool,
) -> None:
    """A subscription's output frames onto the stream until its end (None): raw bytes
    for a TTY, multiplexed frames otherwise; streams not in `want` are skipped."""
    while (frame := await frames.get()) is not None:
        if frame.stream in want:
            await stream.write(frame.data if tty else stdcopy.encode(frame.stream, frame.data))


async def pump_input(
    stream: HijackedStream,
    scanner: detachkeys.Scanner | None,
    send: Callable[[bytes], Awaitable[None]],
) -> bool:
    """The client's input into `send` until it half-closes (False) or types the detach
    keys (True: what came before them is sent, the rest of that read is dropped)."""
    while data := await stream.read():
        detached = False
        if scanner is not None:
            data, detached = scanner.feed(data)
        if data:
            await send(data)
        if detached:
            return True
    return False


@contextlib.asynccontextmanager
async def exchange(
    stream: HijackedStream,
    pump_in: asyncio.Task[None] | None,
    unsubscribe: Callable[[], None],
) -> AsyncIterator[None]:
    """The output side of a hijacked exchange (attach, exec start): a client that goes
    away ends it quietly; however it ends, the output subscription ends, then `close`."""
    try:
        yield
    except ConnectionError:
        pass
    finally:
        unsubscribe()
        await close(stream, pump_in)


async def close(stream: HijackedStream, pump_in: asyncio.Task[None] | None) -> None:
    """End a hijacked exchange: stop the input pump, then close the connection."""
    if pump_in is not None:
        pump_in.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump_in
    stream.close()
