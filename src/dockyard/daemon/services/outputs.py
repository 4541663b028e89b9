"""Output subscriptions: how a process's output reaches the clients that attached
to it (attach, exec start, a build's RUN), with a bound on what the daemon holds.

A client that stops reading must not make the daemon buffer without limit (it
did: 500 MB of output held for one stalled `docker attach`). Each subscription
holds at most `LIMIT` bytes of frames; while any subscription of a process is
full, the reader of that process's monitor link stops reading (`room`). The
kernel's socket buffers fill, the monitor stops reading the container's pipes
(`monitor/relay.py`), and the container blocks in write(2), as it does under
dockerd when an attached client does not read. The end of the output (None)
is never refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from dockyard.proto.stdcopy import Frame

LIMIT = 1 << 20  # bytes of frames held per subscription


class Subscription:
    """One client's frames, in order, up to `limit` bytes; None ends them.
    Shaped like the asyncio.Queue it replaces (`put_nowait`, `get`)."""

    def __init__(self, limit: int = LIMIT) -> None:
        self._frames: deque[Frame | None] = deque()
        self._size = 0
        self._limit = limit
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def put_nowait(self, frame: Frame | None) -> None:
        self._frames.append(frame)
        if frame is not None:
            self._size += len(frame.data)
            if self._size >= self._limit:
                self._room.clear()
        self._ready.set()

    async def get(self) -> Frame | None:
        while not self._frames:
            self._ready.clear()
            await self._ready.wait()
        frame = self._frames.popleft()
        if frame is not None:
            self._size -= len(frame.data)
            if self._size < self._limit // 2:  # hysteresis: resume in large steps
                self._room.set()
        return frame

    @property
    def full(self) -> bool:
        return not self._room.is_set()

    def release(self) -> None:
        """The client left: it no longer holds anyone back."""
        self._frames.clear()
        self._size = 0
        self._room.set()

    async def room(self) -> None:
        await self._room.wait()


async def room(subscriptions: Iterable[Subscription]) -> None:
    """Until no subscription is full (a subscription that leaves is released)."""
    while full := [s for s in subscriptions if s.full]:
        await full[0].room()


class Fanout:
    """The subscriptions to one process's output, and the monitor link it comes
    over. The monitor sends output only while someone wants it (a subscription,
    or a `logs --follow` waiting for the log to grow): a detached container's
    output then never crosses into the daemon, whose log is the monitor's."""

    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self.followers = 0
        self._link: Callable[[bool], None] | None = None
        self._sent = True  # a monitor sends output until told otherwise

    def __iter__(self) -> Iterator[Subscription]:
        return iter(list(self._subs))

    def __len__(self) -> int:
        return len(self._subs)

    def subscribe(self) -> Subscription:
        s = Subscription()
        self._subs.add(s)
        self._update()
        return s

    def unsubscribe(self, s: Subscription) -> None:
        self._subs.discard(s)
        s.release()
        self._update()

    @contextlib.contextmanager
    def following(self) -> Iterator[None]:
        self.followers += 1
        self._update()
        try:
            yield
        finally:
            self.followers -= 1
            self._update()

    def publish(self, frame: Frame) -> None:
        for s in self._subs:
            s.put_nowait(frame)

    def end(self) -> None:
        for s in self._subs:
            s.put_nowait(None)

    def link(self, send: Callable[[bool], None] | None) -> None:
        """A new monitor link (None: it ended); `send(on)` tells its monitor."""
        self._link = send
        self._sent = True
        self._update()

    def _update(self) -> None:
        wanted = bool(self._subs) or self.followers > 0
        if self._link is not None and wanted != self._sent:
            self._sent = wanted
            self._link(wanted)
