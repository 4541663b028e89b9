"""Pull-through cache: a registry that mirrors a remote one. A manifest or
blob this registry lacks is fetched from the remote (through the daemon's
registry client transport: same auth flow, same refusal to contact Docker
Hub), verified, stored, then served; tags lists are the remote's. Manifests
fetched by tag are refetched after `ttl` seconds so tags stay fresh."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any
from urllib.parse import urlparse

from dockyard.api.errors import DockyardError, NotFound
from dockyard.registry import proto
from dockyard.registry.client.auth import Credentials
from dockyard.registry.client.transport import ALL_MANIFESTS, Scope, Transport
from dockyard.registry.proto import RegistryError
from dockyard.registry.server.storage import Manifest, RegistryStorage


class ProxyCache:
    def __init__(self, storage: RegistryStorage, cfg: dict[str, Any], ttl: float = 60) -> None:
        self.storage = storage
        u = urlparse(cfg["remoteurl"])
        self.host = u.netloc
        self.creds = Credentials(cfg.get("username", ""), cfg.get("password", ""))
        self.insecure = frozenset([self.host]) if u.scheme == "http" else frozenset()
        self.ttl = ttl
        self._fresh: dict[tuple[str, str], float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _transport(self) -> Transport:
        return Transport(self.host, self.creds, self.insecure)

    async def manifest(self, name: str, ref: str, accept: list[str]) -> Manifest:
        try:
            async with self._transport() as t:
                resp = await t.request(
                    "GET", f"/v2/{name}/manifests/{ref}", Scope(name, ("pull",)),
                    {"Accept": ", ".join(accept) or ALL_MANIFESTS},
                )  # fmt: skip
                body = await resp.read()
                ct = resp.headers.get("Content-Type", "")
                resp.release()
        except NotFound:
            raise RegistryError("MANIFEST_UNKNOWN", detail={"reference": ref}) from None
        except DockyardError as exc:
            raise RegistryError("MANIFEST_UNKNOWN", f"upstream: {exc.message}") from None
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if proto.is_digest(ref) and digest != ref:
            raise RegistryError("DIGEST_INVALID", detail={"expected": ref, "actual": digest})
        m, _ = self.storage.put_manifest(name, ref, body, ct, check_refs=False)
        self._fresh[(name, ref)] = time.monotonic()
        return m

    async def blob(self, name: str, digest: str) -> int | None:
        lock = self._locks.setdefault(digest, asyncio.Lock())
        async with lock:
            size = self.storage.global_blob_size(digest)
            if size is not None:
                self.storage.link_blob(name, digest)
                return size
            up = self.storage.start_upload(name)
            try:
                async with self._transport() as t:
                    resp = await t.request(
                        "GET", f"/v2/{name}/blobs/{digest}", Scope(name, ("pull",))
                    )
                    try:
                        with up.open() as f:
                            async for chunk in resp.content.iter_chunked(1 << 20):
                                f.write(chunk)
                                up.wrote(chunk)
                    finally:
                        resp.release()
                return await asyncio.to_thread(self.storage.finish_upload, up, digest)
            except NotFound:
                self.storage.cancel_upload(up)
                return None
            except DockyardError:
                self.storage.cancel_upload(up)
                raise RegistryError("BLOB_UNKNOWN", "upstream fetch failed") from None

    async def tags(self, name: str) -> list[str] | None:
        try:
            async with self._transport() as t:
                resp = await t.request("GET", f"/v2/{name}/tags/list", Scope(name, ("pull",)))
                doc = await resp.json(content_type=None)
                resp.release()
                return list(doc.get("tags") or [])
        except DockyardError:
            return None

    def stale(self, name: str, ref: str) -> bool:
        if proto.is_digest(ref):
            return False
        t = self._fresh.get((name, ref))
        return t is None or time.monotonic() - t > self.ttl
