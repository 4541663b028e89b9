"""Registry storage: blobs, uploads, manifests, tags and referrers, laid out
over a `StorageDriver` like distribution's (repositories hold links, content
lives once under /blobs, so the same layer pushed to many repositories is
stored once).

    /blobs/sha256/<hh>/<hex>/data                                  content
    /repositories/<name>/_layers/sha256/<hex>/link                 blob in repo
    /repositories/<name>/_manifests/revisions/sha256/<hex>/link    manifest in repo
    /repositories/<name>/_manifests/tags/<tag>/current/link        tag -> digest
    /repositories/<name>/_referrers/<subject hex>/<hex>            descriptor JSON
    /repositories/<name>/_uploads/<uuid>/data                      upload in progress

An upload becomes a blob only in `finish_upload`, after its size and sha256
were checked; the move into /blobs is an atomic rename. The running sha256 of
each upload is kept in memory; after a restart it is recomputed from the data
file, so uploads resume across server restarts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, BinaryIO

from dockyard.registry import proto
from dockyard.registry.proto import RegistryError
from dockyard.registry.server.driver import PathNotFound, StorageDriver

_UUID_CHARS = set("0123456789abcdef-")


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1]


def blob_path(digest: str) -> str:
    h = _hex(digest)
    return f"/blobs/sha256/{h[:2]}/{h}/data"


@dataclass(slots=True)
class Manifest:
    digest: str
    media_type: str
    body: bytes


class Upload:
    """One upload session: appends verify nothing until `finish_upload`."""

    def __init__(self, storage: RegistryStorage, repo: str, ident: str) -> None:
        self.storage = storage
        self.repo = repo
        self.id = ident
        self.path = f"{storage.repo_path(repo)}/_uploads/{ident}/data"
        self.hash = hashlib.sha256()
        self.offset = 0
        self.lock = threading.Lock()  # held by the thread that verifies and publishes
        self.alock = (
            asyncio.Lock()
        )  # held by the request writing to it (never the above across awaits)

    def resync(self) -> None:
        """Recompute the hash from the data on disk (after a restart)."""
        size = self.storage.driver.size(self.path)
        if size is None:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN")
        if size == self.offset:
            return
        h = hashlib.sha256()
        with self.storage.driver.reader(self.path) as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        self.hash, self.offset = h, size

    def open(self) -> BinaryIO:
        return self.storage.driver.appender(self.path)

    def wrote(self, data: bytes) -> None:
        self.hash.update(data)
        self.offset += len(data)


class RegistryStorage:
    def __init__(self, driver: StorageDriver, delete_enabled: bool = True) -> None:
        self.driver = driver
        self.delete_enabled = delete_enabled
        self._uploads: dict[str, Upload] = {}
        self._manifests: OrderedDict[str, Manifest] = OrderedDict()  # immutable by digest
        self._lock = threading.Lock()

    # --- paths
    @staticmethod
    def repo_path(repo: str) -> str:
        return f"/repositories/{repo}"

    def _layer_link(self, repo: str, digest: str) -> str:
        return f"{self.repo_path(repo)}/_layers/sha256/{_hex(digest)}/link"

    def _revision_link(self, repo: str, digest: str) -> str:
        return f"{self.repo_path(repo)}/_manifests/revisions/sha256/{_hex(digest)}/link"

    def _tag_link(self, repo: str, tag: str) -> str:
        return f"{self.repo_path(repo)}/_manifests/tags/{tag}/current/link"

    def repo_exists(self, repo: str) -> bool:
        try:
            self.driver.list(self.repo_path(repo))
            return True
        except PathNotFound:
            return False

    # --- blobs
    def blob_size(self, repo: str, digest: str) -> int | None:
        """The size of a blob linked into `repo` (None when unknown there)."""
        if self.driver.size(self._layer_link(repo, digest)) is None:
            # manifests are blobs too (distribution serves them from /blobs/)
            if self.driver.size(self._revision_link(repo, digest)) is None:
                return None
        return self.driver.size(blob_path(digest))

    def global_blob_size(self, digest: str) -> int | None:
        return self.driver.size(blob_path(digest))

    def link_blob(self, repo: str, digest: str) -> None:
        self.driver.put_content(self._layer_link(repo, digest), digest.encode())

    def delete_blob(self, repo: str, digest: str) -> None:
        if not self.delete_enabled:
            raise RegistryError("UNSUPPORTED")
        try:
            self.driver.delete(self._layer_link(repo, digest))
        except PathNotFound:
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": digest}) from None

    def mount_blob(self, repo: str, from_repo: str, digest: str) -> int | None:
        size = self.blob_size(from_repo, digest) if proto.valid_name(from_repo) else None
        if size is None:
            return None
        self.link_blob(repo, digest)
        return size

    def put_blob(self, repo: str, data: bytes, digest: str) -> None:
        """A small blob in one go (used by the pull-through cache and tests)."""
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise RegistryError("DIGEST_INVALID")
        if self.global_blob_size(digest) is None:
            self.driver.put_content(blob_path(digest), data)
        self.link_blob(repo, digest)

    # --- uploads
    def start_upload(self, repo: str) -> Upload:
        ident = str(uuid.uuid4())
        up = Upload(self, repo, ident)
        self.driver.put_content(
            f"{self.repo_path(repo)}/_uploads/{ident}/startedat",
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()).encode(),
        )
        self.driver.put_content(up.path, b"")
        with self._lock:
            self._uploads[ident] = up
        return up

    def upload(self, repo: str, ident: str) -> Upload:
        if not ident or set(ident) - _UUID_CHARS:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN")
        with self._lock:
            up = self._uploads.get(ident)
            if up is None or up.repo != repo:
                up = Upload(self, repo, ident)
                if self.driver.size(up.path) is None:
                    raise RegistryError("BLOB_UPLOAD_UNKNOWN")
                self._uploads[ident] = up
        return up

    def finish_upload(self, up: Upload, digest: str, size: int | None = None) -> int:
        """Verify and publish; the upload is gone afterwards either way on a
        digest mismatch (as distribution does)."""
        proto.check_digest(digest)
        with up.lock:
            up.resync()
            actual = "sha256:" + up.hash.hexdigest()
            if size is not None and size != up.offset:
                raise RegistryError("SIZE_INVALID")
            if actual != digest:
                self.cancel_upload(up)
                raise RegistryError("DIGEST_INVALID", detail={"expected": digest, "actual": actual})
            if self.global_blob_size(digest) is None:
                self.driver.move(up.path, blob_path(digest))
            self.link_blob(up.repo, digest)
            length = up.offset
            self.cancel_upload(up)
        return length

    def cancel_upload(self, up: Upload) -> None:
        with self._lock:
            self._uploads.pop(up.id, None)
        try:
            self.driver.delete(f"{self.repo_path(up.repo)}/_uploads/{up.id}")
        except PathNotFound:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN") from None

    # --- manifests
    def _load_manifest(self, digest: str) -> Manifest | None:
        with self._lock:
            m = self._manifests.get(digest)
            if m is not None:
                self._manifests.move_to_end(digest)
                return m
        try:
            body = self.driver.get_content(blob_path(digest))
        except PathNotFound:
            return None
        try:
            doc = json.loads(body)
            mt = doc.get("mediaType") or (OCI_INDEX_OR_MANIFEST(doc))
        except (ValueError, AttributeError):
            return None
        m = Manifest(digest, mt, body)
        with self._lock:
            self._manifests[digest] = m
            while len(self._manifests) > 4096:
                self._manifests.popitem(last=False)
        return m

    def resolve(self, repo: str, ref: str) -> str:
        if proto.is_digest(ref):
            proto.check_digest(ref)
            if self.driver.size(self._revision_link(repo, ref)) is None:
                raise RegistryError("MANIFEST_UNKNOWN", detail={"digest": ref})
            return ref
        if not proto.TAG_RE.match(ref):
            raise RegistryError("TAG_INVALID" if ref else "MANIFEST_UNKNOWN")
        try:
            return self.driver.get_content(self._tag_link(repo, ref)).decode()
        except PathNotFound:
            if not self.repo_exists(repo):
                raise RegistryError("NAME_UNKNOWN", detail={"name": repo}) from None
            raise RegistryError("MANIFEST_UNKNOWN", detail={"tag": ref}) from None

    def get_manifest(self, repo: str, ref: str) -> Manifest:
        digest = self.resolve(repo, ref)
        m = self._load_manifest(digest)
        if m is None:
            raise RegistryError("MANIFEST_UNKNOWN", detail={"digest": digest})
        return m

    def put_manifest(
        self, repo: str, ref: str, body: bytes, content_type: str, check_refs: bool = True
    ) -> tuple[Manifest, str | None]:
        parsed = proto.parse_manifest(body, content_type)
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if proto.is_digest(ref):
            proto.check_digest(ref)
            if ref != digest:
                raise RegistryError("DIGEST_INVALID", detail={"expected": ref, "actual": digest})
        elif not proto.TAG_RE.match(ref):
            raise RegistryError("TAG_INVALID", detail={"tag": ref})
        missing = []
        for d in parsed.references if check_refs else []:
            if parsed.is_index:
                if self.driver.size(self._revision_link(repo, d)) is None:
                    missing.append(d)
            elif self.blob_size(repo, d) is None:
                missing.append(d)
        if missing:
            kind = "MANIFEST_UNKNOWN" if parsed.is_index else "MANIFEST_BLOB_UNKNOWN"
            if parsed.is_index:
                raise RegistryError(kind, f"manifest unknown: {missing[0]}", {"digest": missing[0]})
            raise RegistryError(
                kind, f"blob unknown to registry: {missing[0]}", {"digest": missing[0]}
            )
        if self.global_blob_size(digest) is None:
            self.driver.put_content(blob_path(digest), body)
        self.driver.put_content(self._revision_link(repo, digest), digest.encode())
        if parsed.subject:
            desc = proto.Descriptor(
                parsed.media_type,
                digest,
                len(body),
                parsed.artifact_type,
                parsed.annotations,
            )
            self.driver.put_content(
                f"{self.repo_path(repo)}/_referrers/{_hex(parsed.subject)}/{_hex(digest)}",
                json.dumps(desc.to_json()).encode(),
            )
        if not proto.is_digest(ref):
            self.driver.put_content(self._tag_link(repo, ref), digest.encode())
        return Manifest(digest, parsed.media_type, body), parsed.subject

    def delete_manifest(self, repo: str, ref: str) -> None:
        if not self.delete_enabled:
            raise RegistryError("UNSUPPORTED")
        if not proto.is_digest(ref):
            # OCI 1.1: deleting a tag removes only the tag
            try:
                self.driver.delete(f"{self.repo_path(repo)}/_manifests/tags/{ref}")
            except PathNotFound:
                raise RegistryError("MANIFEST_UNKNOWN", detail={"tag": ref}) from None
            return
        proto.check_digest(ref)
        try:
            self.driver.delete(f"{self.repo_path(repo)}/_manifests/revisions/sha256/{_hex(ref)}")
        except PathNotFound:
            raise RegistryError("MANIFEST_UNKNOWN", detail={"digest": ref}) from None
        for tag in self.tags(repo):
            try:
                if self.driver.get_content(self._tag_link(repo, tag)).decode() == ref:
                    self.driver.delete(f"{self.repo_path(repo)}/_manifests/tags/{tag}")
            except PathNotFound:
                pass
        m = self._load_manifest(ref)
        if m is not None:
            try:
                subject = (json.loads(m.body).get("subject") or {}).get("digest")
            except ValueError:
                subject = None
            if subject and proto.SHA256_RE.match(subject):
                try:
                    self.driver.delete(
                        f"{self.repo_path(repo)}/_referrers/{_hex(subject)}/{_hex(ref)}"
                    )
                except PathNotFound:
                    pass

    def tags(self, repo: str) -> list[str]:
        try:
            return self.driver.list(f"{self.repo_path(repo)}/_manifests/tags")
        except PathNotFound:
            if not self.repo_exists(repo):
                raise RegistryError("NAME_UNKNOWN", detail={"name": repo}) from None
            return []

    def catalog(self) -> list[str]:
        out = []
        for path in self.driver.walk_files("/repositories"):
            parts = path.split("/")[2:]
            for i, p in enumerate(parts):
                if p in ("_manifests", "_layers", "_uploads", "_referrers"):
                    if p == "_manifests" and i + 1 < len(parts):
                        out.append("/".join(parts[:i]))
                    break
        return sorted(set(out))

    def referrers(self, repo: str, digest: str, artifact_type: str = "") -> list[dict[str, Any]]:
        proto.check_digest(digest)
        base = f"{self.repo_path(repo)}/_referrers/{_hex(digest)}"
        try:
            names = self.driver.list(base)
        except PathNotFound:
            return []
        out = []
        for n in names:
            try:
                desc = json.loads(self.driver.get_content(f"{base}/{n}"))
            except (PathNotFound, ValueError):
                continue
            if self.driver.size(self._revision_link(repo, desc["digest"])) is None:
                continue
            if artifact_type and desc.get("artifactType") != artifact_type:
                continue
            out.append(desc)
        return out

    # --- garbage collection support
    def repositories(self) -> list[str]:
        return self.catalog()

    def revisions(self, repo: str) -> list[str]:
        try:
            return [
                "sha256:" + h
                for h in self.driver.list(f"{self.repo_path(repo)}/_manifests/revisions/sha256")
            ]
        except PathNotFound:
            return []

    def tagged(self, repo: str) -> set[str]:
        out = set()
        for t in self.tags(repo):
            try:
                out.add(self.driver.get_content(self._tag_link(repo, t)).decode())
            except PathNotFound:
                pass
        return out

    def uploads(self) -> list[tuple[str, str, float]]:
        """(repository, upload id, start time) of every unfinished upload."""
        import calendar

        out = []
        for path in self.driver.walk_files("/repositories"):
            parts = path.split("/")
            if len(parts) > 4 and parts[-3] == "_uploads" and parts[-1] == "startedat":
                try:
                    ts = self.driver.get_content(path).decode()
                    started = float(calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")))
                except (PathNotFound, ValueError):
                    started = 0.0
                out.append(("/".join(parts[2:-3]), parts[-2], started))
        return out

    def purge_upload(self, repo: str, ident: str) -> None:
        with self._lock:
            self._uploads.pop(ident, None)
        try:
            self.driver.delete(f"{self.repo_path(repo)}/_uploads/{ident}")
        except PathNotFound:
            pass

    def all_blobs(self) -> list[str]:
        out = []
        for p in self.driver.walk_files("/blobs"):
            parts = p.split("/")
            if len(parts) >= 5 and parts[-1] == "data":
                out.append("sha256:" + parts[-2])
        return out

    def remove_blob(self, digest: str) -> None:
        h = _hex(digest)
        self.driver.delete(f"/blobs/sha256/{h[:2]}/{h}")


def OCI_INDEX_OR_MANIFEST(doc: dict[str, Any]) -> str:  # noqa: N802
    return proto.OCI_INDEX if "manifests" in doc else proto.OCI_MANIFEST
