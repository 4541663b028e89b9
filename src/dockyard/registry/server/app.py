"""The registry's HTTP layer: OCI distribution spec v1.1 routes over
`RegistryStorage`, with aiohttp (already the daemon's server; its FileResponse
gives Range and sendfile for blob bodies).

Repository names contain slashes, so one catch-all route dispatches on regular
expressions matched from the end of the path, as distribution's router does.
Errors are `RegistryError`s rendered as the spec's `{"errors": [...]}` bodies.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from dockyard.registry import proto
from dockyard.registry.proto import RegistryError
from dockyard.registry.server.ratelimit import TokenBuckets
from dockyard.registry.server.storage import RegistryStorage, blob_path

log = logging.getLogger("dockyard.registry")

API_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}
_N_MAX = 10000
MANIFEST_MAX = 4 << 20  # the spec's floor for what registries accept


class Authorizer(Protocol):
    """Decides whether a request may do `actions` on `repo` ("" = the registry
    itself, e.g. /v2/ or _catalog); raises UNAUTHORIZED/DENIED otherwise."""

    async def authorize(self, request: web.Request, repo: str, actions: list[str]) -> None: ...

    def extra_routes(self) -> list[web.RouteDef]: ...


class AllowAll:
    async def authorize(self, request: web.Request, repo: str, actions: list[str]) -> None:
        return None

    def extra_routes(self) -> list[web.RouteDef]:
        return []


class AuthChallenge(RegistryError):
    def __init__(self, challenge: str, code: str = "UNAUTHORIZED", detail: Any = None) -> None:
        super().__init__(code, detail=detail)
        self.challenge = challenge


Handler = Callable[..., Awaitable[web.StreamResponse]]

_ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/v2/$"), "base"),
    (re.compile(r"^/v2/_catalog$"), "catalog"),
    (re.compile(r"^/v2/(?P<name>.+)/tags/list$"), "tags"),
    (re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$"), "manifest"),
    (re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/?$"), "upload_start"),
    (re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<uuid>[^/]+)$"), "upload"),
    (re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$"), "blob"),
    (re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)$"), "referrers"),
]

_WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class RegistryApp:
    def __init__(
        self,
        storage: RegistryStorage,
        authorizer: Authorizer | None = None,
        read_only: bool = False,
        proxy: Any = None,
        limiter: TokenBuckets | None = None,
    ) -> None:
        self.storage = storage
        self.auth: Authorizer = authorizer or AllowAll()
        self.read_only = read_only
        self.proxy = proxy  # a pull-through cache (proxy.ProxyCache) or None
        self.limiter = limiter

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 40)
        app.add_routes(self.auth.extra_routes())
        app.router.add_route("*", "/v2", self.dispatch)
        app.router.add_route("*", "/v2/{tail:.*}", self.dispatch)
        app.router.add_get("/v1/search", self.search)
        return app

    async def search(self, request: web.Request) -> web.StreamResponse:
        """The v1 search API `docker search HOST/TERM` asks a registry (the
        distribution spec has none; Docker Hub's index answers it): repositories
        whose name holds the term, with the catalog's permission."""
        try:
            await self.auth.authorize(request, "", ["*"])
        except AuthChallenge as exc:
            resp = self._error(exc)
            resp.headers["WWW-Authenticate"] = exc.challenge
            return resp
        except RegistryError as exc:
            return self._error(exc)
        q = request.query.get("q", "")
        try:
            n = max(1, min(int(request.query.get("n") or 25), 100))
        except ValueError:
            n = 25
        repos = await asyncio.to_thread(self.storage.catalog)
        found = [r for r in repos if q.lower() in r.lower()][:n]
        results = [
            {"name": r, "description": "", "star_count": 0, "is_official": False,
             "is_automated": False}
            for r in found
        ]  # fmt: skip
        return web.json_response({"num_results": len(results), "query": q, "results": results})

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        try:
            if self.limiter is not None:
                wait = self.limiter.take(request.remote or "")
                if wait:
                    resp = self._error(RegistryError("TOOMANYREQUESTS"))
                    resp.headers["Retry-After"] = self.limiter.retry_after(wait)
                    return resp
            resp = await self._dispatch(request)
        except AuthChallenge as exc:
            resp = self._error(exc)
            resp.headers["WWW-Authenticate"] = exc.challenge
        except RegistryError as exc:
            resp = self._error(exc)
        if not resp.prepared:
            resp.headers.update(API_HEADER)
        return resp

    @staticmethod
    def _error(exc: RegistryError) -> web.Response:
        return web.Response(
            status=exc.status,
            body=exc.body(),
            content_type="application/json",
            headers=API_HEADER,
        )

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == "/v2":
            path = "/v2/"
        for pattern, kind in _ROUTES:
            m = pattern.match(path)
            if m is None:
                continue
            args = m.groupdict()
            name = args.pop("name", "")
            if kind in ("base", "catalog"):
                await self.auth.authorize(request, "", ["*"] if kind == "catalog" else [])
            else:
                if not proto.valid_name(name):
                    raise RegistryError("NAME_INVALID", detail={"name": name})
                actions = {"GET": ["pull"], "HEAD": ["pull"], "DELETE": ["delete"]}.get(
                    request.method, ["pull", "push"]
                )
                await self.auth.authorize(request, name, actions)
            if self.read_only and request.method in _WRITE_METHODS:
                raise RegistryError("UNSUPPORTED", "registry is in read-only mode")
            handler: Handler = getattr(self, f"_{kind}_{request.method.lower()}", None)  # type: ignore[assignment]
            if handler is None:
                raise RegistryError("UNSUPPORTED", f"method {request.method} not allowed")
            return await handler(request, name, **args) if name else await handler(request)
        raise RegistryError("NAME_UNKNOWN", "not found", {"path": request.path})

    # --- base
    async def _base_get(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({})

    _base_head = _base_get

    # --- catalog and tags
    @staticmethod
    def _n(request: web.Request) -> int | None:
        raw = request.query.get("n")
        if raw is None or raw == "":
            return None
        try:
            n = int(raw)
        except ValueError:
            raise RegistryError("PAGINATION_NUMBER_INVALID", detail={"n": raw}) from None
        if n < 0 or n > _N_MAX:
            raise RegistryError("PAGINATION_NUMBER_INVALID", detail={"n": raw})
        return n

    def _page(
        self, request: web.Request, items: list[str], key: str, doc: dict[str, Any]
    ) -> web.Response:
        n = self._n(request)
        last = request.query.get("last", "")
        page, more = proto.paginate(items, n, last)
        doc[key] = page
        resp = web.json_response(doc)
        if more and n and page:
            resp.headers["Link"] = proto.next_link(request.path, n, page[-1])
        return resp

    async def _catalog_get(self, request: web.Request) -> web.StreamResponse:
        repos = await asyncio.to_thread(self.storage.catalog)
        return self._page(request, repos, "repositories", {})

    async def _tags_get(self, request: web.Request, name: str) -> web.StreamResponse:
        if self.proxy is not None:
            tags = await self.proxy.tags(name)
            if tags is not None:
                return self._page(request, tags, "tags", {"name": name})
        return self._page(request, self.storage.tags(name), "tags", {"name": name})

    # --- manifests
    async def _manifest_get(self, request: web.Request, name: str, ref: str) -> web.StreamResponse:
        m = None
        if self.proxy is not None and self.proxy.stale(name, ref):
            try:
                m = await self.proxy.manifest(name, ref, request.headers.getall("Accept", []))
            except RegistryError:
                m = None  # upstream unreachable or unknown: serve what is cached
        if m is None:
            m = self.storage.get_manifest(name, ref)
        accept = proto.parse_accept(request.headers.getall("Accept", []))
        if accept and m.media_type not in accept and "*/*" not in accept:
            m = self._negotiate(name, m, accept)
        headers = {
            "Content-Type": m.media_type,
            "Docker-Content-Digest": m.digest,
            "ETag": f'"{m.digest}"',
        }
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(m.body))
            return web.Response(status=200, headers=headers)
        return web.Response(status=200, body=m.body, headers=headers)

    _manifest_head = _manifest_get

    def _negotiate(self, name: str, m: Any, accept: set[str]) -> Any:
        """What distribution does when a client does not accept the stored type:
        an index falls back to its linux/amd64 manifest, anything else is unknown."""
        if m.media_type in proto.INDEX_TYPES:
            doc = json.loads(m.body)
            for entry in doc.get("manifests") or []:
                plat = entry.get("platform") or {}
                if plat.get("os") == "linux" and plat.get("architecture") == "amd64":
                    child = self.storage.get_manifest(name, entry["digest"])
                    if child.media_type in accept:
                        return child
        kind = "OCI manifest" if m.media_type == proto.OCI_MANIFEST else "manifest"
        raise RegistryError(
            "MANIFEST_UNKNOWN",
            f"{kind} found, but accept header does not support {m.media_type}",
        )

    async def _manifest_put(self, request: web.Request, name: str, ref: str) -> web.StreamResponse:
        if (request.content_length or 0) > MANIFEST_MAX:
            raise RegistryError("MANIFEST_INVALID", "manifest too large (limit 4 MiB)")
        buf = bytearray()
        async for chunk in request.content.iter_chunked(1 << 16):
            buf += chunk
            if len(buf) > MANIFEST_MAX:
                raise RegistryError("MANIFEST_INVALID", "manifest too large (limit 4 MiB)")
        body = bytes(buf)
        m, subject = self.storage.put_manifest(
            name, ref, body, request.headers.get("Content-Type", "")
        )
        headers = {
            "Location": f"/v2/{name}/manifests/{m.digest}",
            "Docker-Content-Digest": m.digest,
        }
        if subject:
            headers["OCI-Subject"] = subject
        return web.Response(status=201, headers=headers)

    async def _manifest_delete(
        self, request: web.Request, name: str, ref: str
    ) -> web.StreamResponse:
        self.storage.delete_manifest(name, ref)
        return web.Response(status=202)

    # --- blobs
    async def _blob_get(self, request: web.Request, name: str, digest: str) -> web.StreamResponse:
        proto.check_digest(digest)
        size = self.storage.blob_size(name, digest)
        if size is None and self.proxy is not None:
            size = await self.proxy.blob(name, digest)
        if size is None:
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": digest})
        headers = {
            "Docker-Content-Digest": digest,
            "ETag": f'"{digest}"',
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
            "Cache-Control": "max-age=31536000",
        }
        if request.method == "HEAD":
            headers["Content-Length"] = str(size)
            return web.Response(status=200, headers=headers)
        local = self.storage.driver.local_path(blob_path(digest))
        rng = request.headers.get("Range")
        if rng is not None and proto.parse_range(rng, size) is None:
            resp = self._error(RegistryError("RANGE_INVALID"))
            resp.headers["Content-Range"] = f"bytes */{size}"
            return resp
        if local is not None:
            return web.FileResponse(local, headers=headers, chunk_size=1 << 20)
        return await self._stream_blob(request, digest, size, rng, headers)

    async def _stream_blob(
        self, request: web.Request, digest: str, size: int, rng: str | None, headers: dict[str, str]
    ) -> web.StreamResponse:
        """A blob from a driver without local files: read and sent in chunks."""
        start, end, status = 0, size - 1, 200
        if rng is not None:
            span = proto.parse_range(rng, size)
            assert span is not None  # unsatisfiable ranges were answered above
            (start, end), status = span, 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        resp = web.StreamResponse(status=status, headers=headers)
        resp.content_length = end - start + 1
        await resp.prepare(request)
        with self.storage.driver.reader(blob_path(digest), start) as f:
            left = end - start + 1
            while left > 0 and (chunk := f.read(min(1 << 20, left))):
                left -= len(chunk)
                await resp.write(chunk)
        await resp.write_eof()
        return resp

    _blob_head = _blob_get

    async def _blob_delete(
        self, request: web.Request, name: str, digest: str
    ) -> web.StreamResponse:
        proto.check_digest(digest)
        self.storage.delete_blob(name, digest)
        return web.Response(status=202, headers={"Docker-Content-Digest": digest})

    # --- uploads
    def _upload_headers(self, name: str, up: Any) -> dict[str, str]:
        end = up.offset - 1 if up.offset > 0 else 0
        return {
            "Location": f"/v2/{name}/blobs/uploads/{up.id}",
            "Range": f"0-{end}",
            "Docker-Upload-UUID": up.id,
        }

    async def _write_body(self, request: web.Request, up: Any) -> None:
        length = request.content_length
        async with up.alock:
            await asyncio.to_thread(up.resync)
            crange = request.headers.get("Content-Range")
            if crange:
                start, end = proto.parse_content_range(crange)
                if start != up.offset:
                    raise RegistryError(
                        "RANGE_INVALID", detail={"offset": up.offset, "start": start}
                    )
                if length is not None and end - start + 1 != length:
                    raise RegistryError("SIZE_INVALID")
            f = up.open()
            try:
                async for chunk in request.content.iter_chunked(1 << 20):
                    f.write(chunk)
                    up.wrote(chunk)
                f.flush()
            finally:
                f.close()

    async def _upload_start_post(self, request: web.Request, name: str) -> web.StreamResponse:
        q = request.query
        mount, from_repo = q.get("mount"), q.get("from")
        if mount:
            proto.check_digest(mount)
            if from_repo and self.storage.mount_blob(name, from_repo, mount) is not None:
                return web.Response(
                    status=201,
                    headers={
                        "Location": f"/v2/{name}/blobs/{mount}",
                        "Docker-Content-Digest": mount,
                    },
                )
        digest = q.get("digest")
        if digest:
            proto.check_digest(digest)
        up = self.storage.start_upload(name)
        if digest:
            try:
                await self._write_body(request, up)
                await asyncio.to_thread(
                    self.storage.finish_upload, up, digest, request.content_length
                )
            except BaseException:
                try:
                    self.storage.cancel_upload(up)
                except RegistryError:
                    pass
                raise
            return web.Response(
                status=201,
                headers={"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest},
            )
        headers = self._upload_headers(name, up)
        return web.Response(status=202, headers=headers)

    async def _upload_get(self, request: web.Request, name: str, uuid: str) -> web.StreamResponse:
        up = self.storage.upload(name, uuid)
        await asyncio.to_thread(up.resync)
        return web.Response(status=204, headers=self._upload_headers(name, up))

    async def _upload_patch(self, request: web.Request, name: str, uuid: str) -> web.StreamResponse:
        up = self.storage.upload(name, uuid)
        await self._write_body(request, up)
        return web.Response(status=202, headers=self._upload_headers(name, up))

    async def _upload_put(self, request: web.Request, name: str, uuid: str) -> web.StreamResponse:
        up = self.storage.upload(name, uuid)
        digest = request.query.get("digest")
        if not digest:
            raise RegistryError("DIGEST_INVALID", "digest missing")
        proto.check_digest(digest)
        if request.content_length or request.headers.get("Transfer-Encoding"):
            await self._write_body(request, up)
        async with up.alock:
            await asyncio.to_thread(self.storage.finish_upload, up, digest)
        return web.Response(
            status=201,
            headers={"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest},
        )

    async def _upload_delete(
        self, request: web.Request, name: str, uuid: str
    ) -> web.StreamResponse:
        up = self.storage.upload(name, uuid)
        self.storage.cancel_upload(up)
        return web.Response(status=204)

    # --- referrers
    async def _referrers_get(
        self, request: web.Request, name: str, digest: str
    ) -> web.StreamResponse:
        artifact_type = request.query.get("artifactType", "")
        descs = self.storage.referrers(name, digest, artifact_type)
        headers = {"Content-Type": proto.OCI_INDEX}
        if artifact_type:
            headers["OCI-Filters-Applied"] = "artifactType"
        body = {"schemaVersion": 2, "mediaType": proto.OCI_INDEX, "manifests": descs}
        return web.Response(status=200, body=json.dumps(body).encode(), headers=headers)
