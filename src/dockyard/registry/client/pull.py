"""Pull: resolve a reference on a registry, choose the platform from an index,
then fetch the layers: while each blob downloads, a thread appends it to a
resumable ingest (kept across a daemon crash, continued with a Range request)
and hashes, decompresses and unpacks it into its own parentless snapshot. Layers so overlap with each
other and with their downloads; each is stacked onto its parent (committed in
order) once both are done, then the image is created, tagged and its repo
digest recorded. Progress goes out as docker's JSON messages through `emit`.

Fetches are shared: `LayerJobs` (one per daemon) keys them by chain id, so
two pulls of images that share layers wait on one download of each blob;
a layer already stored under another parent is unpacked from the store, not
downloaded again.

gzip is decompressed with isal (python-isal): ~1 GB/s here on layer-like data,
~3x the stdlib's zlib, which is what bounded pull throughput on loopback.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from dockyard.api.errors import InvalidParameter, NotFound, SystemError_
from dockyard.proto import image as fmt
from dockyard.proto.reference import Reference
from dockyard.registry import proto
from dockyard.registry.client import progress as pm
from dockyard.registry.client.metadata import BlobSource, DistributionMetadata
from dockyard.registry.client.sink import PullSink
from dockyard.registry.client.transport import ALL_MANIFESTS, Scope, Transport
from dockyard.snapshot.apply import ApplyResult, HashingReader
from dockyard.store import archive
from dockyard.store.compression import decompressed
from dockyard.store.content import BlobInfo, PartialIngest
from dockyard.store.images import Layer

Emit = Callable[[dict[str, Any]], None]
_CHUNK = 1 << 20
_RETRIES = 4


class DownloadError(SystemError_):
    pass


def sha256_hex(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


async def fetch_manifest(
    t: Transport, repo: str, ref: str, accept: str = ALL_MANIFESTS
) -> tuple[bytes, str, str]:
    """(body, media type, digest), verified when fetched by digest."""
    resp = await t.request(
        "GET", f"/v2/{repo}/manifests/{ref}", Scope(repo, ("pull",)), {"Accept": accept}
    )
    try:
        body = await resp.read()
    finally:
        resp.release()
    digest = sha256_hex(body)
    if proto.is_digest(ref) and digest != ref:
        raise InvalidParameter(f"manifest verification failed for digest {ref}")
    mt = resp.headers.get("Content-Type", "").split(";")[0].strip()
    try:
        doc = json.loads(body)
    except ValueError:
        raise InvalidParameter(f"invalid manifest for {repo}:{ref}") from None
    if doc.get("mediaType"):
        mt = doc["mediaType"]
    if doc.get("schemaVersion") == 1:
        raise InvalidParameter(
            "support for Docker Image Format v1 and Docker Image manifest version 2, schema 1 has been removed"
        )
    if mt not in proto.ALL_MANIFEST_TYPES:
        mt = proto.OCI_INDEX if "manifests" in doc else proto.OCI_MANIFEST
    return body, mt, digest


async def fetch_blob(t: Transport, repo: str, digest: str) -> bytes:
    """A small blob (a config) in memory, verified."""
    proto.check_digest(digest)
    resp = await t.request("GET", f"/v2/{repo}/blobs/{digest}", Scope(repo, ("pull",)))
    try:
        body = await resp.read()
    finally:
        resp.release()
    if sha256_hex(body) != digest:
        raise InvalidParameter(f"blob {digest} failed verification (digest mismatch)")
    return body


def choose_platform(index: dict[str, Any], want: tuple[str, str, str]) -> dict[str, Any]:
    os_, arch, variant = want
    best = None
    for m in index.get("manifests") or []:
        p = m.get("platform") or {}
        if p.get("os") != os_ or p.get("architecture") != arch:
            continue
        if variant and p.get("variant") and p.get("variant") != variant:
            continue
        if best is None or (p.get("variant") == variant):
            best = m
    if best is None:
        raise NotFound(
            f"no matching manifest for {os_}/{arch}{'/' + variant if variant else ''} in the manifest list entries"
        )
    return best


class BlobFeed:
    """A blob's bytes handed from the download (on the event loop) to the thread
    that unpacks it. The thread appends each chunk to the partial ingest (so a
    crash leaves what was received, to resume from) before passing it on, and
    hashes it; a resumed ingest's earlier bytes are read back from it first. The
    loop only queues (bounded: `put` waits while the thread is far behind).
    The thread reads it through a `HashingReader`, for the blob's digest."""

    _HIGH = 32 << 20  # bytes queued before the download waits for the unpacking

    def __init__(self, ingest: PartialIngest) -> None:
        self._ingest = ingest
        self._prefix = ingest.size
        self._fd = os.open(ingest.path, os.O_RDONLY | os.O_CLOEXEC) if self._prefix else None
        self._chunks: collections.deque[memoryview] = collections.deque()
        self._queued = 0
        self._cond = threading.Condition()
        self._done = self._failed = False
        self._room: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.count = 0

    # -- the loop's side
    @property
    def resumed_at(self) -> int:
        return self._prefix

    async def put(self, chunk: bytes) -> None:
        with self._cond:
            self._chunks.append(memoryview(chunk))
            self._queued += len(chunk)
            self._cond.notify()
            full = self._queued > self._HIGH and not self._failed
            if full:
                self._loop = asyncio.get_running_loop()
                self._room = asyncio.Event()
        if full:
            assert self._room is not None
            await self._room.wait()

    def done(self) -> None:
        with self._cond:
            self._done = True
            self._cond.notify()

    def fail(self) -> None:
        with self._cond:
            self._failed = True
            self._cond.notify()

    # -- the unpacking thread's side
    def read(self, n: int = -1) -> bytes:
        n = n if n is not None and n > 0 else _CHUNK
        if self._fd is not None and self.count < self._prefix:
            data = os.read(self._fd, min(n, self._prefix - self.count))
            if not data:
                raise DownloadError("partial download shrank while being resumed")
        else:
            with self._cond:
                while not self._chunks and not self._done and not self._failed:
                    self._cond.wait()
                if self._failed:
                    raise DownloadError("download failed")
                if not self._chunks:
                    return b""
                chunk = self._chunks.popleft()
                if len(chunk) > n:
                    self._chunks.appendleft(chunk[n:])
                    chunk = chunk[:n]
                self._queued -= len(chunk)
                if self._room is not None and self._queued < self._HIGH // 2:
                    assert self._loop is not None
                    self._loop.call_soon_threadsafe(self._room.set)
                    self._room = None
            self._ingest.write(chunk)
            data = bytes(chunk)
        self.count += len(data)
        return data

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class _Job:
    """One layer being fetched, and the progress callbacks of the pulls waiting on it."""

    watchers: list[Emit] = field(default_factory=list)
    task: asyncio.Task[Any] | None = None

    def emit(self, msg: dict[str, Any]) -> None:
        for w in list(self.watchers):
            w(msg)


class LayerJobs:
    """The daemon's layer fetches in flight, by chain id (shared by concurrent
    pulls), one fetch of a blob at a time, and the bound on concurrent downloads."""

    def __init__(self, downloads: int = 3) -> None:
        self.jobs: dict[str, _Job] = {}
        self.downloads = downloads
        self._sem: asyncio.Semaphore | None = None
        self._blob_locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @property
    def sem(self) -> asyncio.Semaphore:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.downloads)
        return self._sem

    def start(self, chain: str, job: _Job, coro: Any) -> None:
        job.task = asyncio.ensure_future(coro)
        self.jobs[chain] = job
        job.task.add_done_callback(lambda _t: self.jobs.pop(chain, None))

    @contextlib.asynccontextmanager
    async def blob(self, digest: str) -> AsyncIterator[None]:
        lock, users = self._blob_locks.get(digest, (asyncio.Lock(), 0))
        self._blob_locks[digest] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._blob_locks[digest]
            if users == 1:
                del self._blob_locks[digest]
            else:
                self._blob_locks[digest] = (lock, users - 1)


@dataclass(eq=False)
class Puller:
    images: PullSink
    meta: DistributionMetadata
    emit: Emit
    jobs: LayerJobs = field(default_factory=LayerJobs)

    async def pull(
        self, t: Transport, ref: Reference, platform: tuple[str, str, str]
    ) -> tuple[str, str, bool]:
        """Returns (image id, manifest digest, whether anything new was stored)."""
        repo = ref.path
        tag_or_digest = ref.digest or ref.tag or "latest"
        try:
            body, mt, digest = await fetch_manifest(t, repo, tag_or_digest)
        except NotFound as exc:
            raise NotFound(f"manifest for {ref.familiar()} not found: {exc.message}") from None
        self.emit(pm.status(f"Pulling from {ref.path}", ref.tag or tag_or_digest))
        if mt in proto.INDEX_TYPES:
            entry = choose_platform(json.loads(body), platform)
            body, mt, child = await fetch_manifest(t, repo, entry["digest"])
            if child != entry["digest"]:
                raise InvalidParameter(f"manifest verification failed for digest {entry['digest']}")
        manifest = json.loads(body)
        cfg_desc = manifest["config"]
        config_bytes = await fetch_blob(t, repo, cfg_desc["digest"])
        config = json.loads(config_bytes)
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        layers = manifest.get("layers") or []
        if len(diff_ids) != len(layers):
            raise InvalidParameter(
                f"image config has {len(diff_ids)} layers, manifest {len(layers)}"
            )
        chains = fmt.chain_ids(diff_ids)
        store = self.images.store
        watched: list[_Job] = []
        new = not store.exists(cfg_desc["digest"])
        prev: asyncio.Task[Any] | None = None
        for i, (desc, diff_id) in enumerate(zip(layers, diff_ids, strict=True)):
            ident = pm.short(desc["digest"])
            if store.layer(diff_id) is not None and self._have_snapshot(chains[i]):
                self.emit(pm.status("Already exists", ident))
                prev = None
                continue
            new = True
            job = self.jobs.jobs.get(chains[i])
            if job is None:
                self.emit(pm.status("Pulling fs layer", ident))
                job = _Job()
                parent = chains[i - 1] if i else None
                self.jobs.start(
                    chains[i], job, self._layer(job, t, repo, desc, diff_id, parent, prev)
                )
            else:
                self.emit(pm.status("Waiting", ident))
            job.watchers.append(self.emit)
            watched.append(job)
            prev = job.task
        try:
            for job in watched:
                assert job.task is not None
                await asyncio.shield(job.task)
        finally:
            for job in watched:
                job.watchers.remove(self.emit)
                if not job.watchers and job.task is not None and not job.task.done():
                    job.task.cancel()  # no pull waits for it any more
        for desc, diff_id in zip(layers, diff_ids, strict=True):  # where each layer lives
            source = (desc["digest"], int(desc.get("size", 0)), desc.get("mediaType", ""))
            self.meta.add(diff_id, BlobSource(*source, t.host, repo))
        image_id = store.create(config_bytes)
        return image_id, digest, new

    def _have_snapshot(self, chain: str) -> bool:
        try:
            self.images.snapshotter.stat(chain)
            return True
        except NotFound:
            return False

    async def _layer(
        self,
        job: _Job,
        t: Transport,
        repo: str,
        desc: dict[str, Any],
        diff_id: str,
        parent: str | None,
        parent_task: asyncio.Task[Any] | None,
    ) -> Layer:
        """Fetch and unpack one layer, then stack it onto its parent once that is there."""
        ident = pm.short(desc["digest"])
        sn = self.images.snapshotter
        key: str | None = None
        try:
            key, res, blob = await self._extract(job, t, repo, desc, diff_id)
            if res.diff_id != diff_id:
                raise InvalidParameter(
                    f"layer {desc['digest']} has diff id {res.diff_id}, the config says {diff_id}"
                )
            if parent_task is not None:
                await asyncio.shield(parent_task)
            media_type = desc.get("mediaType") or proto.DOCKER_LAYER
            layer = await asyncio.to_thread(
                archive.commit_layer, self.images.store, sn, key, res, parent, blob, media_type
            )
            key = None
        finally:
            if key is not None:  # in a thread, not awaited: also runs when cancelled
                asyncio.get_running_loop().run_in_executor(None, archive.discard_extract, sn, key)
        job.emit(pm.status("Pull complete", ident))
        return layer

    async def _extract(
        self, job: _Job, t: Transport, repo: str, desc: dict[str, Any], diff_id: str
    ) -> tuple[str, ApplyResult, BlobInfo | None]:
        """The layer unpacked into a new parentless snapshot, and the compressed blob
        kept for it (None: the layer's stored blob stays). From the store when the
        blob or the layer's tar is there (another pull stored it, perhaps under
        another parent), else downloaded."""
        digest = proto.check_digest(desc["digest"])
        async with self.jobs.blob(digest):
            local = self._stored(digest, diff_id)
            if local is not None:
                job.emit(pm.status("Extracting", pm.short(digest)))
                key, res = await asyncio.to_thread(self._extract_stored, local)
                return key, res, self.images.content.info_or_none(digest)
            async with self.jobs.sem:
                return await self._fetch(job, t, repo, desc, diff_id)

    def _stored(self, digest: str, diff_id: str) -> str | None:
        """A stored blob that holds the layer: the compressed one, or the layer's."""
        if self.images.content.info_or_none(digest) is not None:
            return digest
        layer = self.images.store.layer(diff_id)
        if layer is not None and self.images.content.info_or_none(layer.blob) is not None:
            return str(layer.blob)
        return None

    def _extract_stored(self, blob: str) -> tuple[str, ApplyResult]:
        with self.images.content.open(blob) as f:
            tar = decompressed(f)[1]
            return archive.extract_layer(
                self.images.content, self.images.snapshotter, tar, keep_blob=False
            )

    async def _fetch(
        self, job: _Job, t: Transport, repo: str, desc: dict[str, Any], diff_id: str
    ) -> tuple[str, ApplyResult, BlobInfo | None]:
        """Download into the blob's partial ingest (resuming what a previous run left)
        while unpacking it, then keep it as the layer's blob; a kept partial that
        proves bad is dropped and fetched anew."""
        digest = desc["digest"]
        content = self.images.content
        opening = asyncio.ensure_future(asyncio.to_thread(content.partial, digest[7:]))
        try:
            ingest = await asyncio.shield(opening)  # (waits while another process has it)
        except asyncio.CancelledError:  # the lock may still come: let it go at once
            opening.add_done_callback(
                lambda f: f.cancelled() or f.exception() or f.result().close()
            )
            raise
        keep = True
        try:
            local = self._stored(digest, diff_id)
            if local is not None:  # another process finished it while we waited
                keep = False
                job.emit(pm.status("Extracting", pm.short(digest)))
                key, res = await asyncio.to_thread(self._extract_stored, local)
                return key, res, content.info_or_none(digest)
            for fresh in (False, True):
                resumed = ingest.size
                try:
                    key, res = await self._fetch_into(job, t, repo, desc, ingest)
                except InvalidParameter:
                    ingest.truncate()
                    if fresh or not resumed:
                        keep = False
                        raise
                    job.emit(pm.status("Retrying", pm.short(digest)))
                    continue
                keep = False
                try:
                    blob = await asyncio.to_thread(ingest.commit, content, digest, ingest.size)
                except BaseException:
                    await asyncio.to_thread(archive.discard_extract, self.images.snapshotter, key)
                    raise
                return key, res, blob
            raise AssertionError("unreachable")
        finally:
            if keep:
                ingest.close()  # cut short (network, cancel): kept to resume
            else:
                ingest.discard()

    async def _fetch_into(
        self, job: _Job, t: Transport, repo: str, desc: dict[str, Any], ingest: PartialIngest
    ) -> tuple[str, ApplyResult]:
        digest, size = desc["digest"], int(desc.get("size") or 0)
        ident = pm.short(digest)
        feed = BlobFeed(ingest)
        blob = HashingReader(feed)  # type: ignore[arg-type]
        unpack = asyncio.ensure_future(asyncio.to_thread(self._extract_stream, blob))
        try:
            await self._download(job, t, repo, digest, size, feed, unpack)
            feed.done()
            job.emit(pm.status("Verifying Checksum", ident))
            job.emit(pm.status("Download complete", ident))
            job.emit(pm.status("Extracting", ident))
            try:
                key, res = await asyncio.shield(unpack)
            except InvalidParameter:
                if blob.digest != digest:  # corrupt bytes: say so, as docker does
                    raise InvalidParameter(
                        f"filesystem layer verification failed for digest {digest}"
                    ) from None
                raise
            await asyncio.to_thread(blob.drain)  # (nothing, unless data trailed the layer)
        except BaseException:
            feed.fail()
            await asyncio.wait([unpack])
            if not unpack.cancelled() and unpack.exception() is None:
                archive.discard_extract(self.images.snapshotter, unpack.result()[0])
            feed.close()
            raise
        feed.close()
        if blob.digest != digest or (size and blob.count != size):
            await asyncio.to_thread(archive.discard_extract, self.images.snapshotter, key)
            raise InvalidParameter(f"filesystem layer verification failed for digest {digest}")
        return key, res

    def _extract_stream(self, blob: HashingReader) -> tuple[str, ApplyResult]:
        """Unpack what the feed brings; a layer found bad is still read to its end,
        so that the digest can tell a corrupt download from a bad layer."""
        try:
            tar = decompressed(blob)[1]  # type: ignore[arg-type]
            return archive.extract_layer(
                self.images.content, self.images.snapshotter, tar, keep_blob=False
            )
        except InvalidParameter:
            blob.drain()
            raise

    async def _download(
        self,
        job: _Job,
        t: Transport,
        repo: str,
        digest: str,
        size: int,
        feed: BlobFeed,
        unpack: asyncio.Future[Any],
    ) -> None:
        """The rest of the blob into `feed` (a Range request from what the ingest
        already held), retried with backoff; stops early if the unpacking failed."""
        ident = pm.short(digest)
        delay = 0.2
        received = feed.resumed_at
        for attempt in range(_RETRIES + 1):
            if size and received >= size:
                if received > size:
                    raise InvalidParameter(f"partial download of {digest} is longer than the blob")
                return
            headers = {"Range": f"bytes={received}-"} if received else {}
            try:
                resp = await t.request(
                    "GET", f"/v2/{repo}/blobs/{digest}", Scope(repo, ("pull",)), headers,
                    ok=(200, 206),
                )  # fmt: skip
                try:
                    skip = received if resp.status == 200 else 0  # no Range support: pass over
                    last = 0.0
                    async for chunk in resp.content.iter_chunked(_CHUNK):
                        if skip:
                            n = min(skip, len(chunk))
                            chunk, skip = chunk[n:], skip - n
                        await feed.put(chunk)
                        received += len(chunk)
                        if unpack.done():
                            unpack.result()  # the unpacking failed: its error
                            raise InvalidParameter(f"layer {digest} ended before its blob")
                        now = time.monotonic()
                        if now - last > 0.1:
                            last = now
                            job.emit(pm.progress("Downloading", ident, received, size))
                finally:
                    resp.release()
                return
            except (OSError, TimeoutError, aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:  # fmt: skip
                if attempt == _RETRIES:
                    raise DownloadError(f"failed to download {digest}: {exc}") from None
                job.emit(pm.status(f"Retrying in {delay:.0f} seconds", ident))
                await asyncio.sleep(delay)
                delay *= 2
