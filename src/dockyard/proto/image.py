"""Image formats, pure: the image config (Docker's image JSON / OCI config),
chain ids, platforms, timestamps, the shape of `Config` as Docker shows it, and
`image_config`, a child image's config (shared by commit and the builder).
"""

from __future__ import annotations

import copy
import hashlib
import platform as _platform
from typing import Any

from dockyard import __version__
from dockyard.api.errors import InvalidParameter

# Timestamps live in proto.timetypes; re-exported for callers written against this name.
from dockyard.proto.timetypes import rfc3339_nano as rfc3339_nano

_GOARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}
ZERO_TIME = "0001-01-01T00:00:00Z"


def host_platform() -> tuple[str, str, str]:
    """(os, architecture, variant) of this host, in Go's names."""
    m = _platform.machine()
    arch = _GOARCH.get(m, m)
    variant = "v7" if m == "armv7l" else ("v8" if arch == "arm64" else "")
    return "linux", arch, variant


def parse_platform(s: str | None) -> tuple[str, str, str]:
    """`linux`, `linux/amd64`, `linux/arm/v7` -> (os, architecture, variant); empty = host."""
    host = host_platform()
    if not s:
        return host
    parts = s.lower().split("/")
    if len(parts) > 3 or not all(parts):
        raise InvalidParameter(f'"{s}": unknown operating system or architecture: invalid argument')
    os_ = parts[0]
    if os_ != "linux":
        raise InvalidParameter(f'operating system is not supported: "{os_}"')
    arch = parts[1] if len(parts) > 1 else host[1]
    arch = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386"}.get(arch, arch)
    variant = parts[2] if len(parts) > 2 else ""
    return os_, arch, variant


def parse_rfc3339(s: str | None) -> float:
    """Seconds since the epoch of an RFC 3339 timestamp (0 for empty or unparsable)."""
    if not s:
        return 0.0
    import datetime as _dt

    txt = s.strip()
    frac = 0.0
    if "." in txt:
        head, rest = txt.split(".", 1)
        digits = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            digits += rest[i]
            i += 1
        frac = float("0." + digits) if digits else 0.0
        txt = head + rest[i:]
    txt = txt.replace("Z", "+00:00")
    try:
        return _dt.datetime.fromisoformat(txt).timestamp() + frac
    except ValueError:
        return 0.0


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI chain ids: ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    out: list[str] = []
    for d in diff_ids:
        if not out:
            out.append(d)
        else:
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# Docker's container.Config as the API shows it (ImageInspect.Config, ContainerConfig).
_CONFIG_DEFAULTS: dict[str, Any] = {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "ExposedPorts": None,
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": None,
    "Cmd": None,
    "Healthcheck": None,
    "ArgsEscaped": None,
    "Image": "",
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "NetworkDisabled": None,
    "MacAddress": None,
    "OnBuild": None,
    "Labels": None,
    "StopSignal": None,
    "StopTimeout": None,
    "Shell": None,
}
_OMIT_EMPTY = {
    "ExposedPorts",
    "Healthcheck",
    "ArgsEscaped",
    "Volumes",
    "NetworkDisabled",
    "MacAddress",
    "StopSignal",
    "StopTimeout",
    "Shell",
}


def api_container_config(cfg: dict[str, Any] | None) -> dict[str, Any]:
    """An image config's `config` in the shape docker's API returns it."""
    out = dict(_CONFIG_DEFAULTS)
    out.update(cfg or {})
    return {k: v for k, v in out.items() if not (k in _OMIT_EMPTY and v in (None, "", {}, []))}


def import_config(
    container_config: dict[str, Any],
    diff_id: str,
    message: str,
    platform: tuple[str, str, str],
    created: str,
    docker_version: str,
) -> dict[str, Any]:
    """The image config `docker import` writes: one layer, one history entry."""
    os_, arch, variant = platform
    cfg: dict[str, Any] = {
        "architecture": arch,
        "config": container_config,
        "created": created,
        "docker_version": docker_version,
        "history": [{"created": created, **({"comment": message} if message else {})}],
        "os": os_,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    if message:
        cfg["comment"] = message
    if variant:
        cfg["variant"] = variant
    return cfg


# -- distribution formats: media types, descriptors, manifests, indexes -------

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MT_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
MT_DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MT_DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

MANIFEST_TYPES = (MT_OCI_MANIFEST, MT_DOCKER_MANIFEST)
INDEX_TYPES = (MT_OCI_INDEX, MT_DOCKER_LIST)
LAYER_TYPES = (
    MT_OCI_LAYER, MT_OCI_LAYER_GZIP, MT_OCI_LAYER_ZSTD,
    MT_DOCKER_LAYER, MT_DOCKER_LAYER_GZIP, MT_DOCKER_FOREIGN_LAYER,
)  # fmt: skip

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'


def canonical_json(obj: Any) -> bytes:
    """Compact JSON, keys in the order given (Go's json.Marshal of a struct)."""
    import json

    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def descriptor(media_type: str, digest: str, size: int, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": size}
    d.update({k: v for k, v in extra.items() if v})
    return d


def oci_manifest(config: dict[str, Any], layers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "config": config, "layers": layers}


def oci_index(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": manifests}


def docker_manifest(config: dict[str, Any], layers: list[dict[str, Any]]) -> dict[str, Any]:
    """Docker's image manifest v2 schema 2 (for registries that want it)."""
    cfg = dict(config, mediaType=MT_DOCKER_CONFIG)
    lys = [
        dict(
            ly,
            mediaType=MT_DOCKER_LAYER_GZIP if ly["mediaType"].endswith("gzip") else MT_DOCKER_LAYER,
        )
        for ly in layers
    ]
    return {"schemaVersion": 2, "mediaType": MT_DOCKER_MANIFEST, "config": cfg, "layers": lys}


def platform_matches(p: dict[str, Any] | None, want: tuple[str, str, str]) -> bool:
    if not p:
        return True
    os_, arch, variant = want
    if p.get("os", os_) != os_ or p.get("architecture", arch) != arch:
        return False
    return not variant or not p.get("variant") or p.get("variant") == variant


IMAGE_CONFIG_TYPES = (MT_OCI_CONFIG, MT_DOCKER_CONFIG)
ANNOTATION_REFERENCE_TYPE = "vnd.docker.reference.type"  # BuildKit's attestation manifests


def is_image_manifest(manifest: dict[str, Any], desc: dict[str, Any] | None = None) -> bool:
    """An image (runnable) rather than an OCI 1.1 artifact: no `artifactType`, an image
    config media type (or none, as old writers leave it), not an attestation."""
    if manifest.get("artifactType") or (desc or {}).get("artifactType"):
        return False
    ann = (desc or {}).get("annotations") or {}
    if ann.get(ANNOTATION_REFERENCE_TYPE):
        return False
    mt = (manifest.get("config") or {}).get("mediaType")
    return not mt or mt in IMAGE_CONFIG_TYPES


def select_platform(
    manifests: list[dict[str, Any]], want: tuple[str, str, str]
) -> dict[str, Any] | None:
    """The index entry for platform `want`: os and architecture equal, then an exact
    variant before a missing one (containerd's platforms.Only ordering, simplified);
    artifacts and attestations (unknown/unknown) never match."""
    best: tuple[int, dict[str, Any]] | None = None
    for m in manifests:
        if m.get("artifactType") or ((m.get("annotations") or {}).get(ANNOTATION_REFERENCE_TYPE)):
            continue
        if not platform_matches(m.get("platform"), want):
            continue
        p = m.get("platform") or {}
        score = 2 if want[2] and p.get("variant") == want[2] else 1 if p else 0
        if best is None or score > best[0]:
            best = (score, m)
    return best[1] if best else None


def image_config(
    parent: dict[str, Any] | None,
    container_config: dict[str, Any],
    created_by: str,
    diff_id: str | None,
    *,
    created: str | None = None,
    comment: str = "",
    author: str = "",
    container_id: str = "",
    ordinary_container_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The image config of a child of `parent` (an image config, or None for
    scratch): `diff_id` None means an empty layer (a config-only step)."""
    created = created or rfc3339_nano()
    parent = parent or {}
    os_, arch, variant = host_platform()
    history = copy.deepcopy(list(parent.get("history") or []))
    entry = {"created": created, **_given(author=author, created_by=created_by, comment=comment)}
    if diff_id is None:
        entry["empty_layer"] = True
    history.append(entry)
    diff_ids = list((parent.get("rootfs") or {}).get("diff_ids") or [])
    if diff_id is not None:
        diff_ids.append(diff_id)
    cfg: dict[str, Any] = {
        "architecture": parent.get("architecture") or arch,
        "config": container_config,
        "created": created,
        "docker_version": __version__,
        "history": history,
        "os": parent.get("os") or os_,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    if parent.get("variant") or (variant and not parent):
        cfg["variant"] = parent.get("variant") or variant
    cfg.update(_given(author=author, comment=comment, container=container_id))
    if ordinary_container_config is not None:
        cfg["container_config"] = ordinary_container_config
    return cfg


def _given(**fields: Any) -> dict[str, Any]:
    """The fields that have a value, in the order given (an image config's key order is
    part of its digest)."""
    return {k: v for k, v in fields.items() if v}
