"""Garbage collection and consistency checks over the three stores.

Roots are image records: an image keeps its config blob, its layers' records
and blobs, and the committed snapshots of its chain. Active snapshots belong
to containers (or to an import in progress) and are never collected, except
the `extract-*` leftovers of an interrupted import (`stale_extracts=True`,
only safe when no import can be running, i.e. at start-up).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from dockyard.api.errors import Conflict, NotFound
from dockyard.proto.image import chain_ids
from dockyard.snapshot.overlay import OverlaySnapshotter
from dockyard.snapshot.snapshotter import KIND_COMMITTED, Snapshotter
from dockyard.store.content import PARTIAL_PREFIX, ContentStore, FileContentStore
from dockyard.store.images import ImageStore

EXTRACT_PREFIX = "extract-"


@dataclass
class Collected:
    blobs: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)
    bytes: int = 0


def _roots(store: ImageStore) -> tuple[set[str], set[str], set[str]]:
    """(image ids, the diff ids and the chain ids their configs name): what is kept."""
    image_ids = set(store.ids())
    diff_ids: set[str] = set()
    chains: set[str] = set()
    for i in image_ids:
        d = list((store.config(i).get("rootfs") or {}).get("diff_ids") or [])
        diff_ids.update(d)
        chains.update(chain_ids(d))
    return image_ids, diff_ids, chains


def _layers(store: ImageStore, diff_ids: set[str]) -> tuple[set[str], list[str]]:
    """(the blobs of the layers an image uses, the diff ids of the layers none uses)."""
    used: set[str] = set()
    unused: list[str] = []
    for layer in store.layers():
        if layer.diff_id in diff_ids:
            used.add(layer.blob)
        else:
            unused.append(layer.diff_id)
    return used, unused


def collect(
    content: ContentStore,
    store: ImageStore,
    snapshotter: Snapshotter,
    stale_extracts: bool = False,
) -> Collected:
    out = Collected()
    image_ids, diff_ids, chains = _roots(store)
    used, unused = _layers(store, diff_ids)
    keep_blobs = set(image_ids) | used
    for diff_id in unused:
        store.delete_layer(diff_id)
        out.layers.append(diff_id)
    for blob in list(content.walk()):
        if blob.digest not in keep_blobs:
            try:
                content.delete(blob.digest)
            except NotFound:
                continue
            out.blobs.append(blob.digest)
            out.bytes += blob.size
    if stale_extracts:
        for info in list(snapshotter.walk()):
            if info.key.startswith(EXTRACT_PREFIX) and info.kind != KIND_COMMITTED:
                snapshotter.remove(info.key)
                out.snapshots.append(info.key)
    # leaves first: a committed snapshot can go once nothing sits on it
    changed = True
    while changed:
        changed = False
        infos = list(snapshotter.walk())
        parents = {i.parent for i in infos if i.parent}
        for info in infos:
            if info.kind == KIND_COMMITTED and info.key not in chains and info.key not in parents:
                try:
                    snapshotter.remove(info.key)
                except (Conflict, NotFound):
                    continue
                out.snapshots.append(info.key)
                changed = True
    return out


def check(
    content: ContentStore,
    store: ImageStore,
    snapshotter: OverlaySnapshotter,
    verify_digests: bool = False,
    dangling: bool = False,
) -> list[str]:
    """Every inconsistency found, as a sentence; `verify_digests` rehashes every blob.

    `dangling` also reports what only an interrupted operation leaves (and `collect`
    removes): blobs, layer records and committed snapshots no image refers to,
    active `extract-*` snapshots and ingest files. Only meaningful on a quiet store.
    """
    problems: list[str] = []
    if dangling:
        problems += _dangling(content, store, snapshotter)
    image_ids = set(store.ids())
    for image_id in sorted(image_ids):
        if content.info_or_none(image_id) is None:
            problems.append(f"image {image_id}: config blob missing")
            continue
        d = list((store.config(image_id).get("rootfs") or {}).get("diff_ids") or [])
        for diff_id, chain in zip(d, chain_ids(d), strict=True):
            layer = store.layer(diff_id)
            if layer is None:
                problems.append(f"image {image_id}: layer record {diff_id} missing")
            else:
                info = content.info_or_none(layer.blob)
                if info is None:
                    problems.append(f"layer {diff_id}: blob {layer.blob} missing")
                elif info.size != layer.blob_size:
                    problems.append(
                        f"layer {diff_id}: blob size {info.size}, recorded {layer.blob_size}"
                    )
            try:
                if snapshotter.stat(chain).kind != KIND_COMMITTED:
                    problems.append(f"image {image_id}: snapshot {chain} is not committed")
                elif not snapshotter.fs_dir(chain).is_dir():
                    problems.append(f"image {image_id}: snapshot {chain} has no directory")
            except NotFound:
                problems.append(f"image {image_id}: snapshot {chain} missing")
    for image_id in image_ids:
        for ref in store.references(image_id):
            if store.lookup(ref) != image_id:
                problems.append(f"reference {ref} inconsistent")
    if verify_digests:
        for blob in content.walk():
            h = hashlib.sha256()
            with content.open(blob.digest) as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            if "sha256:" + h.hexdigest() != blob.digest:
                problems.append(f"blob {blob.digest}: content does not match its digest")
    return problems


def _dangling(content: FileContentStore, store: ImageStore, snapshotter: Snapshotter) -> list[str]:
    problems: list[str] = []
    image_ids, diff_ids, chains = _roots(store)
    used, unused = _layers(store, diff_ids)
    keep = set(image_ids) | used
    problems += [f"layer {diff_id}: no image refers to it" for diff_id in unused]
    problems += [f"blob {b.digest}: no image or layer refers to it" for b in content.walk()]
    problems = [p for p in problems if not any(p.startswith(f"blob {k}:") for k in keep)]
    infos = list(snapshotter.walk())
    parents = {i.parent for i in infos if i.parent}
    for info in infos:
        if info.key.startswith(EXTRACT_PREFIX):
            problems.append(f"snapshot {info.key}: an unfinished layer extraction")
        elif info.kind == KIND_COMMITTED and info.key not in chains and info.key not in parents:
            problems.append(f"snapshot {info.key}: no image refers to it")
    problems += [
        f"ingest {e.name}: an unfinished write"
        for e in content.paths.ingest.iterdir()
        if not e.name.startswith(PARTIAL_PREFIX)  # a download kept to resume, not debris
    ]
    return problems
