"""The builder's `StepRunner` (builder/needs.py) over the container service: a
RUN step's container is an ordinary container, created, started and removed
through the container service's public methods, its output read from a
subscription as `docker attach` reads it. Kept apart so that the builder
declares what it needs and only the composition root knows who provides it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from typing import Any

from dockyard.builder.needs import Output
from dockyard.daemon.services.containers import ContainerService


class BuildSteps:
    def __init__(self, containers: ContainerService, unmount: Callable[[str], None]) -> None:
        self.containers = containers
        self._unmount = unmount

    def create(self, body: dict[str, Any]) -> str:
        return self.containers.create(None, body)[0]

    async def run(self, cid: str, output: Output) -> int:
        cs = self.containers
        c = cs.get(cid)
        q = cs.subscribe(c)
        try:
            # A cancelled build (another stage failed) must not cut a start
            # short: let it finish so the removal can kill the process.
            starting = asyncio.ensure_future(cs.start(cid))
            try:
                await asyncio.shield(starting)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await starting
                raise
            while True:
                frame = await q.get()
                if frame is None:
                    break
                await output(frame.stream, frame.data)
        finally:
            cs.unsubscribe(c, q)
        return int((await cs.wait(cid))["StatusCode"])

    def release_rootfs(self, cid: str) -> None:
        rootfs = self.containers.paths.rootfs(cid)
        if os.path.ismount(rootfs):
            self._unmount(rootfs)

    async def remove(self, cid: str) -> None:
        await self.containers.remove(cid, force=True)
