"""Push: an image's layers, config and manifest to a registry.

Only what the registry lacks moves: for each layer the compressed blobs this
daemon already knows for it (from earlier pulls and pushes, `metadata`) are
HEAD-checked in the target repository, then cross-mounted from a sibling
repository on the same registry; only then is the stored (uncompressed) layer
compressed and uploaded, in chunked PATCHes (resumed from the upload's status
after a broken connection). Compression is gzip level 1 through isal, in worker
threads, one per layer (measured here on 32 MiB half-compressible data:
~1.4 GB/s, against ~0.11 GB/s for zlib level 1 and ~0.05 GB/s for zlib's
default level 6, the level dockerd's gzip uses); gzip output is
deterministic (mtime 0), so a layer compressed again has the same digest and
a re-push after losing the metadata still finds it with HEAD.

The manifest is Docker v2 schema 2 (what `docker push` writes), or OCI when
the layers' known sources were OCI (the image came in as OCI).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from dockyard.api.errors import DockyardError, InvalidParameter, Unavailable
from dockyard.registry import proto
from dockyard.registry.client import progress as pm
from dockyard.registry.client.metadata import BlobSource, DistributionMetadata
from dockyard.registry.client.sink import PushSource
from dockyard.registry.client.transport import Scope, Transport
from dockyard.store.images import LAYER_TAR, Image, Layer

Emit = Callable[[dict[str, Any]], None]
_CHUNK = 1 << 20
GZIP_LEVEL = 1


def compress_file(src_path: str, dst_path: str) -> tuple[str, int]:
    """gzip `src_path` into `dst_path` with isal; (digest, size) of the output."""
    from isal import isal_zlib

    h = hashlib.sha256()
    size = 0
    comp = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, 31)
    with open(src_path, "rb") as src, open(dst_path, "wb") as dst:
        while True:
            chunk = src.read(4 * _CHUNK)
            out = comp.compress(chunk) if chunk else comp.flush()
            if out:
                dst.write(out)
                h.update(out)
                size += len(out)
            if not chunk:
                break
    return "sha256:" + h.hexdigest(), size


class Pusher:
    def __init__(
        self,
        images: PushSource,
        metadata: DistributionMetadata,
        emit: Emit,
        concurrency: int = 5,
        chunk_size: int = 64 << 20,
    ) -> None:
        self.images = images
        self.meta = metadata
        self.emit = emit
        self.sem = asyncio.Semaphore(concurrency)
        self.uploaded = 0  # blobs that actually moved (for tests and benches)
        self.chunk_size = chunk_size

    async def push(self, t: Transport, repo: str, tag: str, image: Image) -> tuple[str, int]:
        """Push `image` as repo:tag; returns (manifest digest, manifest size)."""
        scope = Scope(repo, ("pull", "push"))
        store = self.images.store
        diff_ids = image.diff_ids
        layers = []
        for d in diff_ids:
            ly = store.layer(d)
            if ly is None:
                raise InvalidParameter(f"layer {d} of {image.id} is not in the store")
            layers.append(ly)
        for ly in layers:
            self.emit(pm.status("Preparing", pm.short(ly.diff_id)))
        # one request first so the token for this scope is cached before bodies move
        await self._head(t, scope, repo, image.id)
        descs = await asyncio.gather(*(self._layer(t, scope, repo, ly) for ly in layers))
        config_bytes = self.images.content.read(image.id)
        if not await self._head(t, scope, repo, image.id):
            await self._upload_bytes(t, scope, repo, config_bytes, image.id)
        oci = bool(descs) and all(d.media_type.startswith("application/vnd.oci") for d in descs)
        manifest = {
            "schemaVersion": 2,
            "mediaType": proto.OCI_MANIFEST if oci else proto.DOCKER_MANIFEST,
            "config": {
                "mediaType": proto.OCI_CONFIG if oci else proto.DOCKER_CONFIG,
                "digest": image.id,
                "size": len(config_bytes),
            },
            "layers": [
                {"mediaType": d.media_type, "digest": d.digest, "size": d.size} for d in descs
            ],
        }
        body = json.dumps(manifest, indent=3).encode()
        resp = await t.request(
            "PUT",
            f"/v2/{repo}/manifests/{tag}",
            scope,
            {"Content-Type": manifest["mediaType"]},
            data=body,
            ok=(200, 201, 202),
        )
        resp.release()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        return digest, len(body)

    async def _head(self, t: Transport, scope: Scope, repo: str, digest: str) -> bool:
        resp = await t.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope, allow_404=True)
        resp.release()
        return resp.status == 200

    async def _layer(self, t: Transport, scope: Scope, repo: str, ly: Layer) -> BlobSource:
        ident = pm.short(ly.diff_id)
        async with self.sem:
            known = [
                s
                for s in self.meta.sources(ly.diff_id)
                if "gzip" in s.media_type or s.media_type == ""
            ]
            for s in known:
                if s.host == t.host and await self._head(t, scope, repo, s.digest):
                    self.emit(pm.status("Layer already exists", ident))
                    self._remember(ly.diff_id, s, t.host, repo)
                    return s
            for s in known:
                if s.host == t.host and s.repo != repo:
                    resp = await t.request(
                        "POST",
                        f"/v2/{repo}/blobs/uploads/?mount={s.digest}&from={s.repo}",
                        Scope(repo, ("pull", "push")),
                        ok=(201, 202),
                    )
                    resp.release()
                    if resp.status == 201:
                        self.emit(pm.status(f"Mounted from {s.repo}", ident))
                        self._remember(ly.diff_id, s, t.host, repo)
                        return s
                    loc = resp.headers.get("Location", "")
                    if loc:  # the registry opened an upload instead: drop it
                        try:
                            r2 = await t.request("DELETE", loc, scope, ok=(204, 404))
                            r2.release()
                        except Exception:  # noqa: BLE001 - best effort
                            pass
            media_type = (
                known[0].media_type if known and known[0].media_type else proto.DOCKER_LAYER
            )
            src = str(self.images.content.path(ly.blob))
            tmp = str(self.images.ingest_dir / f"push-{os.urandom(8).hex()}.gz")
            try:
                if ly.media_type != LAYER_TAR:  # pulled: the compressed blob as it came
                    digest, size, tmp = ly.blob, ly.blob_size, src
                    media_type = ly.media_type
                else:
                    digest, size = await asyncio.to_thread(compress_file, src, tmp)
                desc = BlobSource(digest, size, media_type, t.host, repo)
                if await self._head(t, scope, repo, digest):
                    self.emit(pm.status("Layer already exists", ident))
                else:
                    await self._upload_file(t, scope, repo, tmp, digest, size, ident)
                    self.emit(pm.status("Pushed", ident))
            finally:
                if tmp != src:
                    try:
                        os.unlink(tmp)
                    except FileNotFoundError:
                        pass
            self._remember(ly.diff_id, desc, t.host, repo)
            return desc

    def _remember(self, diff_id: str, s: BlobSource, host: str, repo: str) -> None:
        self.meta.add(diff_id, BlobSource(s.digest, s.size, s.media_type, host, repo))

    async def _start(self, t: Transport, scope: Scope, repo: str) -> str:
        resp = await t.request("POST", f"/v2/{repo}/blobs/uploads/", scope, ok=(202,))
        resp.release()
        loc = resp.headers.get("Location")
        if not loc:
            raise InvalidParameter("registry did not return an upload location")
        return self._absolute(t, loc)

    @staticmethod
    def _with_digest(loc: str, digest: str) -> str:
        return f"{loc}{'&' if '?' in loc else '?'}digest={digest}"

    async def _upload_bytes(
        self, t: Transport, scope: Scope, repo: str, data: bytes, digest: str
    ) -> None:
        loc = await self._start(t, scope, repo)
        resp = await t.request(
            "PUT",
            self._with_digest(loc, digest),
            scope,
            {"Content-Type": "application/octet-stream"},
            data=data,
            ok=(201, 204),
        )
        resp.release()
        self.uploaded += 1

    async def _upload_file(
        self, t: Transport, scope: Scope, repo: str, path: str, digest: str, size: int, ident: str
    ) -> None:
        """Chunked upload: PATCHes of `chunk_size` with Content-Range; after a broken
        connection the upload's status says where to resume (a few times, with backoff).
        The session's URL is remembered after each chunk: a push cut short (a daemon
        killed) continues the same session next time, from the offset it reports."""
        sessions = self.meta.uploads
        loc, offset = await self._resume(t, scope, repo, digest, size)
        if loc is None:
            loc, offset = await self._start(t, scope, repo), 0
            sessions.set(t.host, repo, digest, loc)
        elif offset:
            self.emit(pm.status(f"Resuming upload at {offset} bytes", ident))
        retries, last = 0, 0.0

        async def body(start: int, end: int) -> AsyncIterator[bytes]:
            nonlocal last
            with open(path, "rb") as f:
                f.seek(start)
                pos = start
                while pos < end and (chunk := f.read(min(4 * _CHUNK, end - pos))):
                    pos += len(chunk)
                    yield chunk
                    now = time.monotonic()
                    if now - last > 0.1:
                        last = now
                        self.emit(pm.progress("Pushing", ident, pos, size))

        while offset < size:
            end = min(size, offset + self.chunk_size)
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Length": str(end - offset),
                "Content-Range": f"{offset}-{end - 1}",
            }
            try:
                resp = await t.request(
                    "PATCH", loc, scope, headers, data=body(offset, end), ok=(202, 204)
                )
            except Unavailable:
                retries += 1
                if retries > 3:
                    raise
                await asyncio.sleep(0.2 * 2**retries)
                offset = await self._upload_offset(t, scope, loc)
                continue
            resp.release()
            loc = self._absolute(t, resp.headers.get("Location") or loc)
            sessions.set(t.host, repo, digest, loc)
            offset = end
        resp = await t.request(
            "PUT",
            self._with_digest(loc, digest),
            scope,
            {"Content-Length": "0"},
            ok=(201, 204),
        )
        resp.release()
        sessions.set(t.host, repo, digest, None)
        self.uploaded += 1

    async def _resume(
        self, t: Transport, scope: Scope, repo: str, digest: str, size: int
    ) -> tuple[str | None, int]:
        """A remembered upload session of this blob and its offset, if the registry
        still has it (distribution spec: GET the upload URL, read its Range)."""
        loc = self.meta.uploads.get(t.host, repo, digest)
        if loc is None:
            return None, 0
        try:
            offset = await self._upload_offset(t, scope, loc)
        except DockyardError:  # gone (expired, cancelled, another registry): start over
            offset = -1
        if not 0 <= offset <= size:
            self.meta.uploads.set(t.host, repo, digest, None)
            return None, 0
        return loc, offset

    @staticmethod
    def _absolute(t: Transport, loc: str) -> str:
        return loc if loc.startswith("http") else t.base + loc

    async def _upload_offset(self, t: Transport, scope: Scope, loc: str) -> int:
        resp = await t.request("GET", loc, scope, ok=(204,))
        resp.release()
        rng = resp.headers.get("Range", "0-0")
        end = int(rng.split("-")[-1])
        return end + 1 if end > 0 else 0
