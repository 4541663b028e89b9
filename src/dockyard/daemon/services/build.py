"""The build service: `POST /build` (the classic builder's API). Receives the
context tar into a private temp dir (streamed to a worker thread through
the image service's BodyPipe), applies .dockerignore, parses the Dockerfile
(parse errors are HTTP errors, before any output), then runs the builder,
which reports through the classic JSON message stream."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator

from dockyard.api.errors import InvalidParameter
from dockyard.builder.builder import Builder, BuildOptions, Emit
from dockyard.builder.context import apply_dockerignore, extract_context
from dockyard.daemon.services.images import BodyPipe
from dockyard.dockerfile.parser import Dockerfile, parse
from dockyard.rootpath import open_in_root


class BuildService:
    def __init__(self, builder: Builder, tmp_root: str) -> None:
        self.builder = builder
        self.tmp_root = tmp_root
        self.digests: dict[str, dict[str, str]] = {}  # context dir -> file digests

    async def receive(
        self, body: AsyncIterator[bytes], opts: BuildOptions
    ) -> tuple[str, Dockerfile]:
        """Unpack the context; returns (context dir, parsed Dockerfile). The
        caller removes the dir with `release`."""
        ctx = tempfile.mkdtemp(prefix="build-ctx-", dir=self.tmp_root)
        pipe = BodyPipe()

        def work() -> None:
            try:
                self.digests[ctx] = extract_context(pipe, ctx)  # type: ignore[arg-type]
            finally:
                pipe.close_reader()

        worker = asyncio.ensure_future(asyncio.to_thread(work))
        try:
            try:
                await pipe.feed(body)
            finally:
                await asyncio.wait([worker])
            try:
                worker.result()
            except ValueError as exc:
                raise InvalidParameter(f"failed to read the build context: {exc}") from None
            name = opts.dockerfile or "Dockerfile"
            try:
                with open_in_root(ctx, name) as f:
                    text = f.read().decode("utf-8", "replace")
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                raise InvalidParameter(f"Cannot locate specified Dockerfile: {name}") from None
            if not text.strip():
                raise InvalidParameter(f"the Dockerfile ({name}) cannot be empty")
            df = parse(text)
            await asyncio.to_thread(apply_dockerignore, ctx)
            return ctx, df
        except BaseException:
            await self.release(ctx)
            raise

    async def release(self, ctx: str) -> None:
        self.digests.pop(ctx, None)
        await asyncio.to_thread(shutil.rmtree, ctx, True)

    async def build(self, df: Dockerfile, ctx: str, opts: BuildOptions, emit: Emit) -> str:
        return await self.builder.build(df, ctx, opts, emit, self.digests.get(ctx))


def tmp_dir(data_root: str) -> str:
    d = os.path.join(data_root, "builder", "tmp")
    os.makedirs(d, exist_ok=True)
    return d
