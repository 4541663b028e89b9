"""The build service: `POST /build` (the classic builder's API). Receives the
context tar (its files hashed on the way) into memory, or a spool file when
large, next to a private temp dir it may be unpacked into, indexes it and
applies .dockerignore to the index, parses the Dockerfile
(parse errors are HTTP errors, before any output), then runs the builder,
which reports through the classic JSON message stream."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from typing import Any

from dockyard.api.errors import InvalidParameter
from dockyard.api.timefilters import unix_time
from dockyard.builder.builder import Builder, BuildOptions, Emit
from dockyard.builder.context import BuildContext, TarContext
from dockyard.builder.contexts import PRIVATE_DOCKERFILE, ContextStore, Manifest
from dockyard.builder.ctxsum import TarStreamHasher
from dockyard.daemon.paths import DaemonPaths
from dockyard.dockerfile.parser import Dockerfile, parse


class BuildService:
    def __init__(self, builder: Builder, tmp_root: str) -> None:
        self.builder = builder
        self.tmp_root = tmp_root
        self.contexts = ContextStore(os.path.join(os.path.dirname(tmp_root), "contexts"))
        self._pending: dict[str, Manifest] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._held: dict[str, asyncio.Lock] = {}  # kept context tree -> lock held for a build

    async def prune(self, everything: bool, filters: dict[str, list[str]]) -> dict[str, Any]:
        """`docker builder prune` (and `docker system prune`): cache entries dropped
        (see `BuildCache.prune`). Their images stay; `docker image prune` takes those
        no tag or child holds. Filters: `until` (a duration or a time)."""
        filters = {k: list(v) if isinstance(v, (list, dict)) else [v] for k, v in filters.items()}
        unknown = set(filters) - {"until"}
        if unknown:
            raise InvalidParameter(f"invalid filter '{sorted(unknown)[0]}'")
        until = unix_time(filters["until"][0]) if filters.get("until") else None
        store = self.builder.images.store
        gone = await asyncio.to_thread(self.builder.cache.prune, everything, until, store.exists)
        return {"CachesDeleted": gone or None, "SpaceReclaimed": 0}

    async def context_need(self, key: str, manifest: Manifest) -> list[str]:
        """`dockyard build`'s first request: which files of `manifest` to send."""
        try:
            self.contexts.check_key(key)
            self.contexts.check_manifest(manifest)
        except ValueError as exc:
            raise InvalidParameter(str(exc)) from None
        self._pending[key] = manifest
        return await asyncio.to_thread(self.contexts.need, key, manifest)

    async def receive(
        self, body: AsyncIterator[bytes], opts: BuildOptions, context_key: str = ""
    ) -> tuple[BuildContext, Dockerfile]:
        """Take in the context; returns it and the parsed Dockerfile. The
        caller lets go of the context with `release`."""
        if context_key:
            manifest = self._pending.pop(context_key, None)
            if manifest is None:
                raise InvalidParameter("unknown context key: send the manifest first")
            lock = self._locks.setdefault(context_key, asyncio.Lock())
            await lock.acquire()
            ctx = BuildContext(self.contexts.tree(context_key))
            self._held[ctx.root] = lock
            spool = self.contexts.spool(context_key)
        else:
            ctx = BuildContext(tempfile.mkdtemp(prefix="build-ctx-", dir=self.tmp_root))
            spool = ctx.root + ".tar"
        try:
            hashed, kept = await _spool(body, spool, keep=not context_key)
            try:
                if context_key:
                    _, ctx.known = await asyncio.to_thread(
                        self.contexts.apply, context_key, manifest, hashed
                    )
                else:
                    tar = await asyncio.to_thread(TarContext.open, ctx.root, spool, hashed, kept)
                    ctx.use(tar)
            except ValueError as exc:
                raise InvalidParameter(f"failed to read the build context: {exc}") from None
            name = opts.dockerfile or "Dockerfile"
            try:
                if context_key and name == PRIVATE_DOCKERFILE:
                    with open(self.contexts.dockerfile(context_key), "rb") as f:
                        raw = f.read()
                else:
                    raw = ctx.read(name)
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                raise InvalidParameter(f"Cannot locate specified Dockerfile: {name}") from None
            text = raw.decode("utf-8", "replace")
            if not text.strip():
                raise InvalidParameter(f"the Dockerfile ({name}) cannot be empty")
            df = parse(text)
            if ctx.tar is not None:  # a kept context comes filtered by the client
                await asyncio.to_thread(ctx.tar.apply_dockerignore)
                if name == PRIVATE_DOCKERFILE:
                    ctx.tar.remove(name)
            return ctx, df
        except BaseException:
            await self.release(ctx)
            raise

    async def release(self, ctx: BuildContext) -> None:
        ctx.close()
        lock = self._held.pop(ctx.root, None)
        if lock is not None:
            lock.release()  # a kept context stays for the next build
            return

        def remove() -> None:
            shutil.rmtree(ctx.root, True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(ctx.root + ".tar")

        await asyncio.to_thread(remove)

    async def build(self, df: Dockerfile, ctx: BuildContext, opts: BuildOptions, emit: Emit) -> str:
        return await self.builder.build(df, ctx, opts, emit)


# a context up to this size stays in memory as received; a larger one is spooled
_IN_MEMORY = 128 << 20


async def _spool(
    body: AsyncIterator[bytes], path: str, keep: bool = True
) -> tuple[dict[tuple[int, int], str], list[bytes] | None]:
    """Take in the request body: its files' digests, hashed on the way, and
    the body itself when it was small enough to keep (else it is in `path`).
    Done in the event loop, which otherwise waits for the client: hashing a
    chunk takes ~0.2 ms and writing one to the page cache ~0.1 ms, while
    handing 50 MB to a thread chunk by chunk took 2-3x the transfer time
    (measured: 150-250 ms vs ~50). Kept chunks are the ones aiohttp made:
    no copy, no file to write and delete."""
    hasher = TarStreamHasher()
    kept: list[bytes] | None = [] if keep else None
    size = 0
    fd = -1 if keep else _create(path)
    try:
        async for chunk in body:
            hasher.feed(chunk)
            if kept is not None:
                kept.append(chunk)
                size += len(chunk)
                if size <= _IN_MEMORY:
                    continue
                fd = _create(path)
                chunks, kept = kept, None
            else:
                chunks = [chunk]
            for c in chunks:
                view = memoryview(c)
                while view:
                    view = view[os.write(fd, view) :]
    finally:
        if fd >= 0:
            os.close(fd)
    return hasher.digests, kept


def _create(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)


def tmp_dir(paths: DaemonPaths) -> str:
    """The builder's scratch dir, emptied: contexts and spools of builds a
    stopped daemon left behind are not resumed."""
    d = paths.builder_tmp
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        p = os.path.join(d, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            os.unlink(p)
    return d
