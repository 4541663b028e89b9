"""Layers into snapshots, and image archives in and out (`docker save`/`load`).

`save` writes what Docker 25+ writes: an OCI image layout (`oci-layout`,
`index.json`, `blobs/sha256/...`) that is also a Docker archive
(`manifest.json`, `repositories`). Layers are the stored blobs: uncompressed
tars (blob digest = diff id) for loaded, imported and built layers, the
compressed blobs as downloaded for pulled ones (as Docker's containerd image
store saves them); the archive is deterministic (sorted names, zero mtimes),
so save -> load -> save gives the same bytes.

`load` reads a Docker archive (manifest.json, legacy `<id>/layer.tar` too) or
an OCI layout (index.json), plain or compressed. Each regular file is streamed
into the content store as it is read (files under `blobs/sha256/` are verified
against their names), then each image's layers are unpacked in order. On any
error, the blobs and snapshots this load added are removed again.
"""

from __future__ import annotations

import json
import posixpath
import tarfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from dockyard.api.errors import InvalidParameter, NotFound
from dockyard.proto import image as fmt
from dockyard.proto.reference import Reference, parse_normalized
from dockyard.snapshot.apply import ApplyResult, HashingReader, apply_layer
from dockyard.snapshot.snapshotter import Snapshotter, upper_dir
from dockyard.store.compression import decompressed
from dockyard.store.content import BlobInfo, ContentStore
from dockyard.store.gc import EXTRACT_PREFIX
from dockyard.store.images import LAYER_TAR, Image, ImageStore, Layer

_CHUNK = 1 << 20


def unpack_layer(
    content: ContentStore,
    store: ImageStore,
    snapshotter: Snapshotter,
    tar: BinaryIO,
    parent: str | None,
    keep_blob: bool = True,
) -> Layer:
    """Unpack an uncompressed layer tar onto the snapshot `parent` (a chain id),
    keeping the tar as a blob unless it is already stored; returns the layer
    record. All or nothing: on error the half-filled snapshot is removed."""
    key, res = extract_layer(content, snapshotter, tar, keep_blob)
    return commit_layer(store, snapshotter, key, res, parent)


def extract_layer(
    content: ContentStore, snapshotter: Snapshotter, tar: BinaryIO, keep_blob: bool = True
) -> tuple[str, ApplyResult]:
    """Unpack a layer tar into a new parentless active snapshot (an `extract-*`
    key, which `commit_layer` stacks onto its parent later, so that layers can
    be unpacked side by side); keeps the tar as a blob. On error nothing is left."""
    key = f"{EXTRACT_PREFIX}{uuid.uuid4().hex}"
    mounts = snapshotter.prepare(key, None)
    try:
        if keep_blob:
            with content.writer(verify=False) as w:
                res = apply_layer(upper_dir(mounts), HashingReader(tar, sink=w))  # type: ignore[arg-type]
                w.commit(res.diff_id, res.tar_size)
        else:
            res = apply_layer(upper_dir(mounts), tar)
    except BaseException:
        discard_extract(snapshotter, key)
        raise
    return key, res


def commit_layer(
    store: ImageStore,
    snapshotter: Snapshotter,
    key: str,
    res: ApplyResult,
    parent: str | None,
    blob: BlobInfo | None = None,
    media_type: str = LAYER_TAR,
) -> Layer:
    """Commit an extracted layer (`extract_layer`) as the chain on top of `parent`,
    or drop it when that chain exists already; records the layer, whose blob is
    the stored tar, or `blob` (of `media_type`: a pull keeps the compressed blob
    it downloaded, as containerd does, instead of writing the tar again)."""
    chain = fmt.chain_ids([parent, res.diff_id])[-1] if parent else res.diff_id
    try:
        try:
            snapshotter.stat(chain)
            snapshotter.remove(key)
        except NotFound:
            snapshotter.commit(chain, key, parent=parent)
    except BaseException:
        discard_extract(snapshotter, key)
        raise
    if blob is None:
        layer = Layer(res.diff_id, chain, res.diff_id, LAYER_TAR, res.tar_size, res.size)
    else:
        layer = Layer(res.diff_id, chain, blob.digest, media_type, blob.size, res.size)
    store.add_layer(layer)
    return layer


def discard_extract(snapshotter: Snapshotter, key: str) -> None:
    try:
        snapshotter.remove(key)
    except NotFound:
        pass


# -- save ---------------------------------------------------------------------


@dataclass
class SaveItem:
    image: Image
    refs: list[Reference] = field(default_factory=list)  # tags to record (no digests)


def oci_layer_type(layer: Layer) -> str:
    """The OCI media type of a layer's stored blob: a tar, or (pulled layers) the
    compressed blob as downloaded, saved as is (as Docker's containerd image store does)."""
    if "gzip" in layer.media_type:
        return fmt.MT_OCI_LAYER_GZIP
    if "zstd" in layer.media_type:
        return fmt.MT_OCI_LAYER_ZSTD
    return fmt.MT_OCI_LAYER


def _header(name: str, size: int, dir: bool = False) -> bytes:
    ti = tarfile.TarInfo(name)
    ti.size = 0 if dir else size
    ti.type = tarfile.DIRTYPE if dir else tarfile.REGTYPE
    ti.mode = 0o755 if dir else 0o644
    ti.mtime = 0
    ti.uname = ti.gname = ""
    return ti.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict")


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 512)


def save(
    content: ContentStore,
    store: ImageStore,
    items: list[SaveItem],
    write: Callable[[bytes], object],
) -> None:
    """Write the archive of `items` through `write` (called with chunks of up to 1 MiB)."""
    blobs: dict[str, bytes | None] = {}  # digest -> bytes to write, or None: copy from the store
    manifest_json: list[dict[str, Any]] = []
    index_entries: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    for item in items:
        img = item.image
        config = content.read(img.id)
        blobs[img.id] = config
        layer_descs = []
        for d in img.diff_ids:
            layer = store.layer(d)
            if layer is None:
                raise NotFound(f"layer {d} of image {img.id} is missing")
            blobs[layer.blob] = None
            layer_descs.append(fmt.descriptor(oci_layer_type(layer), layer.blob, layer.blob_size))
        manifest = fmt.canonical_json(
            fmt.oci_manifest(fmt.descriptor(fmt.MT_OCI_CONFIG, img.id, len(config)), layer_descs)
        )
        mdigest = fmt.digest_of(manifest)
        blobs[mdigest] = manifest
        tags = [r for r in item.refs if r.tag is not None and r.digest is None]
        for r in tags:
            annotations = {fmt.ANNOTATION_IMAGE_NAME: str(r), fmt.ANNOTATION_REF_NAME: r.tag}
            index_entries.append(
                fmt.descriptor(fmt.MT_OCI_MANIFEST, mdigest, len(manifest), annotations=annotations)
            )
            if layer_descs:
                repositories.setdefault(r.familiar_name, {})[r.tag] = layer_descs[-1]["digest"][7:]  # type: ignore[index]
        if not tags:
            index_entries.append(fmt.descriptor(fmt.MT_OCI_MANIFEST, mdigest, len(manifest)))
        manifest_json.append(
            {
                "Config": "blobs/sha256/" + img.id[7:],
                "RepoTags": [r.familiar() for r in tags] or None,
                "Layers": ["blobs/sha256/" + ld["digest"][7:] for ld in layer_descs],
            }
        )
    files: list[tuple[str, bytes | str | None]] = [("blobs/", None), ("blobs/sha256/", None)]
    files += [
        ("blobs/sha256/" + d[7:], data if data is not None else d)
        for d, data in sorted(blobs.items())
    ]
    files.append(("index.json", fmt.canonical_json(fmt.oci_index(index_entries)) + b"\n"))
    files.append(("manifest.json", fmt.canonical_json(manifest_json) + b"\n"))
    files.append(("oci-layout", fmt.OCI_LAYOUT))
    if repositories:
        files.append(("repositories", fmt.canonical_json(repositories) + b"\n"))
    for name, data in files:
        if data is None:
            write(_header(name, 0, dir=True))
        elif isinstance(data, bytes):
            write(_header(name, len(data)) + data + _pad(len(data)))
        else:
            size = content.info(data).size
            write(_header(name, size))
            with content.open(data) as f:
                while chunk := f.read(_CHUNK):
                    write(chunk)
            write(_pad(size))
    write(b"\0" * 1024)


# -- load ---------------------------------------------------------------------


@dataclass
class Loaded:
    image_id: str
    refs: list[Reference]


class _Archive:
    """The archive's files, each already in the content store: path -> digest."""

    def __init__(self, content: ContentStore) -> None:
        self.content = content
        self.files: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.added: set[str] = set()

    def ingest(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        path = posixpath.normpath(m.name.lstrip("/"))
        if m.issym() or m.islnk():
            target = (
                m.linkname if m.islnk() else posixpath.join(posixpath.dirname(path), m.linkname)
            )
            self.links[path] = posixpath.normpath(target.lstrip("/"))
            return
        if m.ischr() or m.isblk() or m.isfifo():
            raise InvalidParameter(
                f"invalid archive: {m.name} is a device node or fifo, not allowed in an image archive"
            )
        if not m.isreg():
            return
        expected = None
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == "blobs":
            expected = f"{parts[1]}:{parts[2]}"
            if parts[1] != "sha256":
                raise InvalidParameter(f"unsupported digest algorithm in archive: {path}")
        src = tf.extractfile(m)
        assert src is not None
        with self.content.writer() as w:
            while chunk := src.read(_CHUNK):
                w.write(chunk)
            existed = self.content.info_or_none(w.current_digest() or "") is not None
            info = w.commit(expected, m.size)
        if not existed:
            self.added.add(info.digest)
        self.files[path] = info.digest

    def digest(self, path: str) -> str:
        p = posixpath.normpath(path.lstrip("/"))
        for _ in range(16):
            if p in self.files:
                return self.files[p]
            if p not in self.links:
                break
            p = self.links[p]
        raise InvalidParameter(f"invalid archive: {path} is missing")

    def json(self, path: str) -> Any:
        try:
            return json.loads(self.content.read(self.digest(path)))
        except json.JSONDecodeError as exc:
            raise InvalidParameter(f"invalid archive: {path}: {exc}") from None

    def blob_json(self, digest: str) -> Any:
        try:
            return json.loads(self.content.read(digest))
        except (NotFound, json.JSONDecodeError) as exc:
            raise InvalidParameter(f"invalid archive: blob {digest}: {exc}") from None


@dataclass
class _Candidate:
    config: str  # digest
    layers: list[str]  # blob digests, in order
    refs: list[Reference]


def _docker_candidates(ar: _Archive) -> list[_Candidate]:
    out = []
    for entry in ar.json("manifest.json"):
        refs = []
        for t in entry.get("RepoTags") or []:
            refs.append(parse_normalized(t).tag_name_only())
        out.append(
            _Candidate(
                ar.digest(entry["Config"]), [ar.digest(p) for p in entry.get("Layers") or []], refs
            )
        )
    return out


def _oci_candidates(ar: _Archive, platform: tuple[str, str, str]) -> list[_Candidate]:
    index = ar.json("index.json")
    found: dict[str, _Candidate] = {}
    order: list[str] = []

    def visit(desc: dict[str, Any], refs: list[Reference], depth: int) -> None:
        mt = desc.get("mediaType", "")
        if depth > 4:
            raise InvalidParameter("invalid archive: index nesting too deep")
        body = ar.blob_json(desc["digest"])
        mt = mt or body.get("mediaType", "")
        if mt in fmt.INDEX_TYPES or "manifests" in body:
            chosen = fmt.select_platform(body.get("manifests") or [], platform)
            if chosen is None:
                raise InvalidParameter(
                    f"no image in the archive matches platform {'/'.join(p for p in platform if p)}"
                )
            visit(chosen, refs, depth + 1)
            return
        if not fmt.is_image_manifest(body, desc):
            return  # an OCI 1.1 artifact (signature, SBOM, attestation): not an image
        key = desc["digest"]
        if key not in found:
            found[key] = _Candidate(
                body["config"]["digest"], [ly["digest"] for ly in body.get("layers") or []], []
            )
            order.append(key)
        found[key].refs.extend(r for r in refs if r not in found[key].refs)

    for desc in index.get("manifests") or []:
        if desc.get("platform") and not fmt.platform_matches(desc["platform"], platform):
            continue  # a multi-platform layout lists each platform's manifest at the top
        ann = desc.get("annotations") or {}
        refs = []
        name = ann.get(fmt.ANNOTATION_IMAGE_NAME) or ann.get(fmt.ANNOTATION_REF_NAME)
        if name and ("/" in name or ":" in name or fmt.ANNOTATION_IMAGE_NAME in ann):
            try:
                refs.append(parse_normalized(name).tag_name_only())
            except InvalidParameter:
                pass
        visit(desc, refs, 0)
    if not order:
        raise InvalidParameter(
            f"invalid archive: no image for platform {'/'.join(p for p in platform if p)} "
            "in index.json (only other platforms or artifacts)"
        )
    return [found[k] for k in order]


def load(
    content: ContentStore,
    store: ImageStore,
    snapshotter: Snapshotter,
    src: BinaryIO,
    platform: tuple[str, str, str],
    progress: Callable[[str, int, int], None] | None = None,
) -> list[Loaded]:
    """Read an archive from `src` into the stores; returns the images found (not yet tagged).
    `progress(diff_id, done, total)` is called before and after each layer unpacks."""
    ar = _Archive(content)
    new_layers: list[Layer] = []
    try:
        _, raw = decompressed(src)
        try:
            with tarfile.open(fileobj=raw, mode="r|") as tf:  # type: ignore[call-overload]
                for m in tf:
                    ar.ingest(tf, m)
        except (tarfile.TarError, EOFError) as exc:
            raise InvalidParameter(f"invalid archive: {exc}") from None
        except InvalidParameter as exc:
            if exc.message.startswith("invalid archive"):
                raise
            raise InvalidParameter(f"invalid archive: {exc.message}") from None
        if "manifest.json" in ar.files or "manifest.json" in ar.links:
            candidates = _docker_candidates(ar)
        elif "index.json" in ar.files:
            candidates = _oci_candidates(ar, platform)
        else:
            raise InvalidParameter("invalid archive: neither manifest.json nor index.json found")
        out = []
        for c in candidates:
            config_bytes = content.read(c.config)
            config = json.loads(config_bytes)
            diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
            if len(diff_ids) != len(c.layers):
                raise InvalidParameter(
                    f"invalid archive: image {c.config} has {len(c.layers)} layers, its config {len(diff_ids)}"
                )
            chains = fmt.chain_ids(diff_ids)
            for i, (blob, diff_id) in enumerate(zip(c.layers, diff_ids, strict=True)):
                if _have(snapshotter, chains[i]) and store.layer(diff_id) is not None:
                    continue
                total = content.info(blob).size
                if progress is not None:
                    progress(diff_id, 0, total)
                with content.open(blob) as f:
                    kind, tar = decompressed(f)
                    layer = unpack_layer(
                        content,
                        store,
                        snapshotter,
                        tar,
                        chains[i - 1] if i else None,
                        keep_blob=kind != "none",
                    )
                new_layers.append(layer)
                if progress is not None:
                    progress(diff_id, total, total)
                if layer.diff_id != diff_id:
                    raise InvalidParameter(
                        f"invalid archive: layer {blob} has diff id {layer.diff_id}, the config says {diff_id}"
                    )
            image_id = store.create(config_bytes)
            out.append(Loaded(image_id, c.refs))
    except BaseException:
        in_use = {
            d
            for i in store.ids()
            for d in (store.config(i).get("rootfs") or {}).get("diff_ids") or []
        }
        for layer in reversed(new_layers):
            if layer.diff_id in in_use:
                continue
            try:
                snapshotter.remove(layer.chain_id)
            except Exception:
                pass
            store.delete_layer(layer.diff_id)
            ar.added.add(layer.blob)
        _drop(content, store, ar.added)
        raise
    _drop(content, store, ar.added)
    return out


def _have(snapshotter: Snapshotter, key: str) -> bool:
    try:
        snapshotter.stat(key)
        return True
    except NotFound:
        return False


def _drop(content: ContentStore, store: ImageStore, digests: Iterable[str]) -> None:
    """Delete the given blobs unless an image or a layer refers to them."""
    keep = set(store.ids()) | {ly.blob for ly in store.layers()}
    for d in digests:
        if d not in keep:
            try:
                content.delete(d)
            except NotFound:
                pass
