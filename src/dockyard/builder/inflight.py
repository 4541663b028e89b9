"""One build of a step at a time: the stages of a build run at once (and builds
run side by side), so two of them reaching the same step (the same parent image
and cache key, as stages that share their first steps do) would both miss the
cache, both build it, and the later would overwrite the cache entry of the
earlier; the earlier stage's next steps, keyed by the image it made, then missed
on every rebuild. Holding the step's key from the cache lookup to the commit makes
the second wait and hit what the first made, as dockerd's one-stage-at-a-time
build does.

A lock lives only while someone holds or waits for it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class StepLocks:
    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[key]
