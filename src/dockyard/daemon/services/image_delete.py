"""dockerd's ImageDelete rules (daemon/images/image_delete.go) that need no service:
whether a name is an id, whether an image's references are one repository's, and the
removal of a deleted image's stored parts (its record, then the snapshots and blobs no
other image uses). The conflicts and untagging stay with the image service.
"""

from __future__ import annotations

from dockyard.api.errors import Conflict, NotFound
from dockyard.proto import reference as refs
from dockyard.proto.image import chain_ids
from dockyard.proto.reference import Reference
from dockyard.snapshot import Snapshotter
from dockyard.store.content import ContentStore
from dockyard.store.images import Image, ImageStore

__all__ = ["is_id_reference", "remove_stored", "single_repository"]


def is_id_reference(name: str, image_id: str) -> bool:
    """Whether ``name`` is (a prefix of) the image's id rather than a reference."""
    prefix = refs.short_id_prefix(name)
    if prefix is None:
        return False
    return image_id.removeprefix("sha256:").startswith(prefix)


def single_repository(repo_refs: list[Reference]) -> bool:
    """dockerd's isSingleReference: at most one tag, all references in one repository."""
    tags = [r for r in repo_refs if r.digest is None]
    if len(tags) > 1:
        return False
    return len({r.name for r in repo_refs}) <= 1


def remove_stored(
    content: ContentStore, store: ImageStore, snapshotter: Snapshotter, image: Image
) -> list[str]:
    """Drop the record, then the snapshots and blobs no other image uses; returns the removed chain ids."""
    store.delete(image.id)
    keep = store.snapshots_in_use()
    removed: list[str] = []
    chains = chain_ids(image.diff_ids)
    for chain in reversed(chains):
        if chain in keep:
            continue
        try:
            snapshotter.remove(chain)
            removed.append(chain)
        except NotFound:
            pass
        except Conflict:
            continue  # a container's snapshot still sits on it
    in_use_diffs = {
        d for i in store.ids() for d in store.config(i).get("rootfs", {}).get("diff_ids", [])
    }
    for diff_id in image.diff_ids:
        if diff_id not in in_use_diffs:
            layer = store.layer(diff_id)
            store.delete_layer(diff_id)
            try:  # the stored tar, or the compressed blob of a pulled layer
                content.delete(layer.blob if layer is not None else diff_id)
            except NotFound:
                pass
    if image.id not in {i for i in store.ids()}:
        try:
            content.delete(image.id)
        except NotFound:
            pass
    return removed
