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
from dockyard.builder.contexts import ContextStore, Manifest
from dockyard.daemon.services.images import BodyPipe
from dockyard.dockerfile.parser import Dockerfile, parse
from dockyard.rootpath import open_in_root


class BuildService:
    def __init__(self, builder: Builder, tmp_root: str) -> None:
        self.builder = builder
        self.tmp_root = tmp_root
        self.digests: dict[str, dict[str, str]] = {}  # context dir -> file digests
        self.contexts = ContextStore(os.path.join(os.path.dirname(tmp_root), "contexts"))
        self._pending: dict[str, Manifest] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._held: dict[str, asyncio.Lock] = {}  # tree -> lock held for a build

    async def context_need(self, key: str, manifest: Manifest) -> list[str]:
        """`dockyard build`'s first request: which files of `manifest` to send."""
        try:
            self.contexts.check_key(key)
        except ValueError as exc:
            raise InvalidParameter(str(exc)) from None
        if not isinstance(manifest, dict):
            raise InvalidParameter("invalid context manifest")
        self._pending[key] = manifest
        return await asyncio.to_thread(self.contexts.need, key, manifest)

    async def receive(
        self, body: AsyncIterator[bytes], opts: BuildOptions, context_key: str = ""
    ) -> tuple[str, Dockerfile]:
        """Unpack the context; returns (context dir, parsed Dockerfile). The
        caller lets go of the dir with `release`."""
        pipe = BodyPipe()
        if context_key:
            manifest = self._pending.pop(context_key, None)
            if manifest is None:
                raise InvalidParameter("unknown context key: send the manifest first")
            lock = self._locks.setdefault(context_key, asyncio.Lock())
            await lock.acquire()
            ctx = self.contexts.tree(context_key)
            self._held[ctx] = lock
        else:
            ctx = tempfile.mkdtemp(prefix="build-ctx-", dir=self.tmp_root)

        def work() -> None:
            try:
                if context_key:
                    _, self.digests[ctx] = self.contexts.apply(context_key, pipe, manifest)  # type: ignore[arg-type]
                else:
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
            if not context_key:  # a cached context comes filtered by the client
                await asyncio.to_thread(apply_dockerignore, ctx)
            return ctx, df
        except BaseException:
            await self.release(ctx)
            raise

    async def release(self, ctx: str) -> None:
        self.digests.pop(ctx, None)
        lock = self._held.pop(ctx, None)
        if lock is not None:
            lock.release()  # a kept context stays for the next build
            return
        await asyncio.to_thread(shutil.rmtree, ctx, True)

    async def build(self, df: Dockerfile, ctx: str, opts: BuildOptions, emit: Emit) -> str:
        return await self.builder.build(df, ctx, opts, emit, self.digests.get(ctx))


def tmp_dir(data_root: str) -> str:
    d = os.path.join(data_root, "builder", "tmp")
    os.makedirs(d, exist_ok=True)
    return d
