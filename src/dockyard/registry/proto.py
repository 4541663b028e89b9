"""The OCI distribution spec v1.1, pure (no I/O): media types, names, digests,
error codes with their HTTP statuses, Content-Range / Range / Link parsing.

Wording of error messages follows CNCF distribution, since clients show them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from dockyard.proto import image as fmt

# media types are the image format's (proto.image); short names here for the spec code
DOCKER_MANIFEST = fmt.MT_DOCKER_MANIFEST
DOCKER_MANIFEST_LIST = fmt.MT_DOCKER_LIST
DOCKER_CONFIG = fmt.MT_DOCKER_CONFIG
DOCKER_LAYER = fmt.MT_DOCKER_LAYER_GZIP
OCI_MANIFEST = fmt.MT_OCI_MANIFEST
OCI_INDEX = fmt.MT_OCI_INDEX
OCI_CONFIG = fmt.MT_OCI_CONFIG
OCI_LAYER_GZIP = fmt.MT_OCI_LAYER_GZIP

MANIFEST_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEX_TYPES = (DOCKER_MANIFEST_LIST, OCI_INDEX)
ALL_MANIFEST_TYPES = (*MANIFEST_TYPES, *INDEX_TYPES)

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
SHA256_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
NAME_MAX = 255

# code -> (HTTP status, default message), as distribution's errcode registry
ERRORS: dict[str, tuple[int, str]] = {
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": (400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": (404, "blob upload unknown to registry"),
    "DIGEST_INVALID": (400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": (400, "blob unknown to registry"),
    "MANIFEST_INVALID": (400, "manifest invalid"),
    "MANIFEST_UNKNOWN": (404, "manifest unknown"),
    "NAME_INVALID": (400, "invalid repository name"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    "SIZE_INVALID": (400, "provided length did not match content length"),
    "TAG_INVALID": (400, "manifest tag did not match URI"),
    "UNAUTHORIZED": (401, "authentication required"),
    "DENIED": (403, "requested access to the resource is denied"),
    "UNSUPPORTED": (405, "The operation is unsupported."),
    "TOOMANYREQUESTS": (429, "too many requests"),
    "RANGE_INVALID": (416, "invalid content range"),
    "PAGINATION_NUMBER_INVALID": (400, "invalid number of results requested"),
}


class RegistryError(Exception):
    """One spec error: `code` picks the HTTP status; `detail` is free-form JSON."""

    def __init__(self, code: str, message: str = "", detail: Any = None) -> None:
        self.code = code
        self.status, default = ERRORS[code]
        self.message = message or default
        self.detail = detail
        super().__init__(f"{code}: {self.message}")

    def body(self) -> bytes:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            err["detail"] = self.detail
        return json.dumps({"errors": [err]}).encode()


def parse_error_body(status: int, body: bytes) -> tuple[str, str]:
    """(code, message) of a registry error response, best effort."""
    try:
        errs = json.loads(body)["errors"]
        return str(errs[0].get("code", "")), str(errs[0].get("message", ""))
    except (ValueError, KeyError, IndexError, TypeError):
        return "", body.decode(errors="replace").strip()[:200] or f"HTTP {status}"


def valid_name(name: str) -> bool:
    return len(name) <= NAME_MAX and NAME_RE.match(name) is not None


def check_digest(d: str) -> str:
    """A digest we can verify (sha256 only); DIGEST_INVALID otherwise."""
    if not SHA256_RE.match(d):
        if DIGEST_RE.match(d) and not d.startswith("sha256:"):
            raise RegistryError("DIGEST_INVALID", f"unsupported digest algorithm: {d}")
        raise RegistryError("DIGEST_INVALID", "invalid digest", {"digest": d})
    return d


def is_digest(s: str) -> bool:
    return ":" in s


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    artifact_type: str = ""
    annotations: dict[str, str] | None = None
    platform: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = self.annotations
        if self.platform:
            out["platform"] = self.platform
        return out


@dataclass(slots=True)
class ParsedManifest:
    media_type: str
    references: list[str]  # blob digests (manifest) or child manifest digests (index)
    is_index: bool
    subject: str | None
    artifact_type: str
    annotations: dict[str, str] | None
    raw: dict[str, Any]


def parse_manifest(body: bytes, content_type: str) -> ParsedManifest:
    """Validate a manifest body and list what it references (MANIFEST_INVALID otherwise)."""
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise RegistryError("MANIFEST_INVALID", f"invalid manifest: {exc}") from None
    if not isinstance(doc, dict):
        raise RegistryError("MANIFEST_INVALID", "manifest is not a JSON object")
    ct = content_type.split(";")[0].strip()
    mt = doc.get("mediaType") or ""
    if mt and ct and ct in ALL_MANIFEST_TYPES and mt != ct:
        raise RegistryError(
            "MANIFEST_INVALID", f"mediaType in manifest should be '{ct}' not '{mt}'"
        )
    mt = mt or ct
    if mt not in ALL_MANIFEST_TYPES:
        # OCI allows mediaType to be absent: infer from the shape
        if "manifests" in doc:
            mt = OCI_INDEX
        elif "config" in doc and "layers" in doc:
            mt = OCI_MANIFEST
        else:
            raise RegistryError("MANIFEST_INVALID", f"unsupported manifest media type {mt!r}")
    if doc.get("schemaVersion") != 2:
        raise RegistryError("MANIFEST_INVALID", "unrecognized manifest schema version")
    refs: list[str] = []
    try:
        if mt in INDEX_TYPES:
            for m in doc.get("manifests") or []:
                refs.append(check_digest(m["digest"]))
        else:
            cfg = doc["config"]
            refs.append(check_digest(cfg["digest"]))
            for layer in doc.get("layers") or []:
                if layer.get("urls"):  # foreign layers are not required to be here
                    continue
                refs.append(check_digest(layer["digest"]))
    except (KeyError, TypeError) as exc:
        raise RegistryError("MANIFEST_INVALID", f"missing field {exc}") from None
    subject = None
    if isinstance(doc.get("subject"), dict):
        subject = check_digest(str(doc["subject"].get("digest", "")))
    artifact_type = doc.get("artifactType") or ""
    if not artifact_type and mt in MANIFEST_TYPES:
        artifact_type = (doc.get("config") or {}).get("mediaType", "")
    return ParsedManifest(
        mt, refs, mt in INDEX_TYPES, subject, artifact_type, doc.get("annotations"), doc
    )


def parse_accept(headers: list[str]) -> set[str]:
    out: set[str] = set()
    for h in headers:
        for part in h.split(","):
            mt = part.split(";")[0].strip()
            if mt:
                out.add(mt)
    return out


def parse_content_range(value: str) -> tuple[int, int]:
    """`start-end` (inclusive) of a PATCH's Content-Range; `bytes ` prefix tolerated."""
    v = value.strip()
    if v.startswith("bytes"):
        v = v[5:].strip(" =")
    v = v.split("/")[0]
    m = re.fullmatch(r"(\d+)-(\d+)", v)
    if not m:  # malformed, not merely out of order (that is RANGE_INVALID, 416)
        raise RegistryError("BLOB_UPLOAD_INVALID", f"invalid Content-Range: {value}")
    start, end = int(m.group(1)), int(m.group(2))
    if end < start:
        raise RegistryError("RANGE_INVALID", f"invalid content range: {value}")
    return start, end


def parse_range(value: str, size: int) -> tuple[int, int] | None:
    """A single `bytes=a-b` / `bytes=a-` / `bytes=-n` range as (start, end inclusive);
    None when unsatisfiable."""
    m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", value)
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if not m.group(1):
        n = int(m.group(2))
        if n == 0:
            return None
        return max(0, size - n), size - 1
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else size - 1
    end = min(end, size - 1)
    if start > end or start >= size:
        return None
    return start, end


def paginate(items: list[str], n: int | None, last: str) -> tuple[list[str], bool]:
    """Lexically sorted page after `last`, at most `n`; True when more follow."""
    items = sorted(items)
    if last:
        items = [i for i in items if i > last]
    if n is None:
        return items, False
    return items[:n], len(items) > n


def next_link(path: str, n: int, last: str, extra: str = "") -> str:
    from urllib.parse import quote

    q = f"n={n}&last={quote(last, safe='')}"
    if extra:
        q += "&" + extra
    return f'<{path}?{q}>; rel="next"'


def parse_link_next(value: str) -> str | None:
    m = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', value or "")
    return m.group(1) if m else None


def parse_www_authenticate(value: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="...",service="...",scope="..."` -> ("bearer", {...})."""
    scheme, _, rest = value.strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params
