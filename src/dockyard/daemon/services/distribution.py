"""The distribution service: pull, push, login and `distribution inspect` for
the Engine API, over the registry client (`dockyard.registry.client`) and the
image service's public parts (content store, image store, snapshotter,
unpack_layer). Progress goes to an `emit` callback as docker's JSON messages.

A reference without a registry host means docker.io, which Dockyard never
contacts (see registry.client.transport): the error says so before any
connection is made.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from dockyard.api.errors import InvalidParameter, NotFound, SystemError_, Unauthorized
from dockyard.daemon.paths import DaemonPaths
from dockyard.daemon.services.events import EventBus
from dockyard.proto import reference as refs
from dockyard.proto.image import parse_platform
from dockyard.proto.reference import Reference
from dockyard.proto.timetypes import rfc3339_nano
from dockyard.registry import proto
from dockyard.registry.client import auth as regauth
from dockyard.registry.client import progress as pm
from dockyard.registry.client.metadata import DistributionMetadata
from dockyard.registry.client.pull import LayerJobs, Puller, fetch_blob, fetch_manifest
from dockyard.registry.client.push import Pusher
from dockyard.registry.client.transport import (
    Denied,
    NoBasicAuthCredentials,
    RegistryRequestError,
    Transport,
)

Emit = Callable[[dict[str, Any]], None]
# bytes per upload PATCH (the environment may set it smaller: tests, links that
# break often, where a resumed upload then re-sends less)
_UPLOAD_CHUNK = int(os.environ.get("DOCKYARD_UPLOAD_CHUNK_SIZE") or 64 << 20)


class DistributionService:
    def __init__(
        self,
        images: Any,
        events: EventBus,
        paths: DaemonPaths,
        insecure_registries: list[str] | None = None,
        registry_mirrors: list[str] | None = None,
        max_concurrent_downloads: int = 3,
        max_concurrent_uploads: int = 5,
    ) -> None:
        self.images = images
        self.events = events
        self.meta = DistributionMetadata(paths.distribution_metadata)
        self.insecure = frozenset(insecure_registries or [])
        # mirrors serve docker.io's repositories (`library/busybox`) under their own host
        self.mirrors = [refs.normalize_host(m) for m in registry_mirrors or []]
        self.layer_jobs = LayerJobs(max_concurrent_downloads)  # shared by concurrent pulls
        # registries' CAs and client certificates, Docker's certs.d layout; read per
        # connection, so a CA placed there works without a restart
        self.cert_dirs = (
            paths.certs_dir,
            "/etc/dockyard/certs.d",
            "/etc/docker/certs.d",
        )
        self.uploads = max_concurrent_uploads

    def _transport(self, host: str, creds: regauth.Credentials) -> Transport:
        return Transport(host, creds, self.insecure, self.cert_dirs)

    # -- pull -------------------------------------------------------------------

    @staticmethod
    def pull_reference(from_image: str, tag: str) -> Reference:
        if tag and proto.is_digest(tag):
            ref = refs.parse_normalized(from_image)
            if ref.tag is not None or ref.digest is not None:
                raise InvalidParameter("invalid reference format")
            return ref.with_digest(refs.validate_digest(tag))
        if tag:
            return refs.parse_repository_tag(from_image, tag)
        return refs.parse_normalized(from_image)

    async def pull(
        self, from_image: str, tag: str, platform: str, auth_header: str | None, emit: Emit
    ) -> None:
        ref = self.pull_reference(from_image, tag)
        plat = parse_platform(platform)
        creds = regauth.decode_header(auth_header)
        host = ref.domain
        if host == refs.DEFAULT_DOMAIN and self.mirrors:
            host, creds = self.mirrors[0], regauth.Credentials()
        try:
            await self._pull(host, creds, ref, plat, emit)
        except Denied as exc:  # dockerd's translatePullError: a 404 that says why
            raise NotFound(
                f"pull access denied for {ref.familiar_name}, repository does not exist "
                f"or may require 'docker login': {exc.message}"
            ) from None
        except Unauthorized as exc:  # never a 401: the CLI would prompt for a Hub login
            raise SystemError_(exc.message) from None

    async def _pull(
        self, host: str, creds: regauth.Credentials, ref: Reference,
        plat: tuple[str, str, str], emit: Emit,
    ) -> None:  # fmt: skip
        async with self._transport(host, creds) as t:
            if ref.tag is None and ref.digest is None:  # --all-tags
                tags = await self._tags(t, ref.path)
                for tg in tags:
                    await self._pull_one(t, ref.with_tag(tg), plat, emit)
                emit(pm.status(f"Status: Downloaded newer image for {ref.familiar_name}"))
                return
            await self._pull_one(t, ref, plat, emit, final=True)

    async def _pull_one(
        self, t: Transport, ref: Reference, plat: tuple[str, str, str], emit: Emit,
        final: bool = False,
    ) -> str:  # fmt: skip
        store = self.images.store
        old = store.lookup(ref) if ref.tag else None
        puller = Puller(self.images, self.meta, emit, self.layer_jobs)
        image_id, digest, new = await puller.pull(t, ref, plat)
        if ref.tag is not None:
            store.add_reference(ref, image_id, tag_time=rfc3339_nano())
        store.add_reference(ref.with_digest(digest), image_id)
        emit(pm.status(f"Digest: {digest}"))
        if final:
            if old == image_id and not new:
                emit(pm.status(f"Status: Image is up to date for {ref.familiar()}"))
            else:
                emit(pm.status(f"Status: Downloaded newer image for {ref.familiar()}"))
        self.events.publish("image", "pull", ref.familiar(), {"name": ref.familiar()})
        return image_id

    async def _tags(self, t: Transport, repo: str) -> list[str]:
        from dockyard.registry.client.transport import Scope

        out: list[str] = []
        path: str | None = f"/v2/{repo}/tags/list?n=1000"
        while path:
            resp = await t.request("GET", path, Scope(repo, ("pull",)))
            try:
                doc = await resp.json(content_type=None)
            finally:
                resp.release()
            out.extend(doc.get("tags") or [])
            path = proto.parse_link_next(resp.headers.get("Link", ""))
        return sorted(set(out))

    # -- push -------------------------------------------------------------------

    async def push(self, name: str, tag: str, auth_header: str | None, emit: Emit) -> None:
        ref = refs.parse_normalized(name)
        if ref.digest is not None:
            raise InvalidParameter("cannot push a digest reference")
        if tag:
            ref = ref.with_tag(refs.validate_tag(tag))
        repo_ref = ref.repository()
        if ref.tag is not None:
            image_id = self.images.store.lookup(ref)
            if image_id is None:
                raise NotFound(f"tag does not exist: {ref.familiar()}")
            targets = [(ref, image_id)]
        else:
            targets = [
                (r, self.images.store.lookup(r))
                for i in self.images.store.ids()
                for r in self.images.store.references(i)
                if r.repository() == repo_ref and r.tag is not None
            ]
            if not targets:
                raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
        creds = regauth.decode_header(auth_header)
        async with self._transport(ref.domain, creds) as t:
            emit(pm.status(f"The push refers to repository [{repo_ref.name}]"))
            for r, image_id in sorted(targets, key=lambda x: x[0].tag or ""):
                image = self.images.store.get(image_id)
                pusher = Pusher(self.images, self.meta, emit, self.uploads, _UPLOAD_CHUNK)
                try:
                    digest, size = await pusher.push(t, ref.path, r.tag or "latest", image)
                except NoBasicAuthCredentials as exc:  # dockerd's push names no request
                    raise RegistryRequestError(500, "", exc.bare) from None
                self.images.store.add_reference(r.with_digest(digest), image_id)
                emit(pm.status(f"{r.tag}: digest: {digest} size: {size}"))
                emit({"progressDetail": {}, "aux": {"Tag": r.tag, "Digest": digest, "Size": size}})
                self.events.publish("image", "push", r.familiar(), {"name": r.familiar()})

    # -- search -----------------------------------------------------------------

    async def search(
        self, term: str, limit: int, filters: dict[str, list[str]], auth_header: str | None
    ) -> list[dict[str, Any]]:
        """`docker search [HOST/]TERM`: the v1 search API of the index the term
        names (Docker Hub's when it names none, which Dockyard does not contact)."""
        if not 1 <= limit <= 100:
            raise InvalidParameter(f"limit {limit} is outside the range of [1, 100]")
        stars, official, automated = search_filters(filters)
        host, query = split_search_term(term)
        creds = regauth.decode_header(auth_header)
        async with self._transport(host, creds) as t:
            resp = await t.request("GET", f"/v1/search?q={quote(query)}&n={limit}")
            try:
                doc = json.loads(await resp.read())
            except json.JSONDecodeError:
                raise SystemError_(f"{host}: the search answer is not JSON") from None
            finally:
                resp.release()
        out = []
        for r in (doc.get("results") if isinstance(doc, dict) else None) or []:
            if int(r.get("star_count") or 0) < stars:
                continue
            if official is not None and bool(r.get("is_official")) != official:
                continue
            if automated is not None and bool(r.get("is_automated")) != automated:
                continue
            out.append(
                {k: r.get(k, d) for k, d in (("name", ""), ("description", ""),
                 ("star_count", 0), ("is_official", False), ("is_automated", False))}
            )  # fmt: skip
        return out[:limit]

    # -- login / inspect --------------------------------------------------------

    async def login(self, body: dict[str, Any]) -> dict[str, Any]:
        creds = regauth.from_json(body)
        host = refs.normalize_host(creds.server or "docker.io")
        async with self._transport(host, creds) as t:
            await t.ping()
        return {"Status": "Login Succeeded", "IdentityToken": ""}

    async def inspect(self, name: str, auth_header: str | None) -> dict[str, Any]:
        ref = refs.parse_normalized(name)
        if ref.tag is None and ref.digest is None:
            ref = ref.tag_name_only()
        creds = regauth.decode_header(auth_header)
        async with self._transport(ref.domain, creds) as t:
            body, mt, digest = await fetch_manifest(t, ref.path, ref.digest or ref.tag or "latest")
            doc = json.loads(body)
            platforms = []
            if mt in proto.INDEX_TYPES:
                for m in doc.get("manifests") or []:
                    p = m.get("platform") or {}
                    if p:
                        platforms.append(
                            {
                                k: v
                                for k, v in p.items()
                                if k
                                in ("architecture", "os", "variant", "os.version", "os.features")
                            }
                        )
            else:
                cfg = await fetch_blob(t, ref.path, doc["config"]["digest"])
                c = json.loads(cfg)
                p = {"architecture": c.get("architecture", ""), "os": c.get("os", "")}
                if c.get("variant"):
                    p["variant"] = c["variant"]
                platforms.append(p)
            return {
                "Descriptor": {"mediaType": mt, "digest": digest, "size": len(body)},
                "Platforms": platforms,
            }


def split_search_term(term: str) -> tuple[str, str]:
    """moby's split of a search term: `host[:port]/rest` names an index when its
    first part looks like a host (a dot, a port, or localhost); else Docker Hub."""
    first, sep, rest = term.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return refs.normalize_host(first), rest
    return "docker.io", term


def search_filters(filters: dict[str, list[str]]) -> tuple[int, bool | None, bool | None]:
    """`stars`, `is-official`, `is-automated`, with dockerd's errors."""
    stars, official, automated = 0, None, None
    for key, values in filters.items():
        for v in values:
            if key == "stars":
                try:
                    stars = max(stars, int(v))
                except ValueError:
                    raise InvalidParameter(f"invalid filter 'stars={v}'") from None
            elif key in ("is-official", "is-automated"):
                if v not in ("true", "false", "1", "0"):
                    raise InvalidParameter(f"invalid filter '{key}={v}'")
                if key == "is-official":
                    official = v in ("true", "1")
                else:
                    automated = v in ("true", "1")
            else:
                raise InvalidParameter(f"invalid filter '{key}'")
    return stars, official, automated
