"""Registry garbage collection: mark every blob reachable from a manifest
revision (or only from tagged ones, with delete_untagged), sweep the rest.
Run it while the server is stopped or read-only, as distribution requires:
an upload finishing during the sweep could otherwise lose its blob. Uploads
left unfinished for a week (distribution's default) are purged too."""

from __future__ import annotations

import json
import time

from dockyard.registry import proto
from dockyard.registry.server.storage import RegistryStorage, blob_path


def _children(storage: RegistryStorage, digest: str) -> list[str]:
    try:
        body = storage.driver.get_content(blob_path(digest))
        parsed = proto.parse_manifest(body, json.loads(body).get("mediaType", ""))
    except Exception:  # noqa: BLE001 - a broken manifest marks nothing
        return []
    out = list(parsed.references)
    if parsed.subject:
        out.append(parsed.subject)
    return out


def collect(
    storage: RegistryStorage,
    dry_run: bool = False,
    delete_untagged: bool = False,
    upload_max_age: float = 7 * 86400,
) -> list[str]:
    """Returns report lines: `<repo>: marking manifest <d>`, `blob eligible for deletion: <d>`."""
    lines: list[str] = []
    marked: set[str] = set()
    for repo in storage.repositories():
        tagged = storage.tagged(repo)
        roots = storage.revisions(repo)
        if delete_untagged:
            keep = set(tagged)
            # children of tagged indexes stay
            stack = list(keep)
            while stack:
                d = stack.pop()
                for c in _children(storage, d):
                    if c in roots and c not in keep:
                        keep.add(c)
                        stack.append(c)
            # referrers of kept manifests stay
            for r in roots:
                if r not in keep and any(s in keep for s in _children(storage, r)):
                    keep.add(r)
            for r in roots:
                if r not in keep:
                    lines.append(f"{repo}: manifest eligible for deletion: {r}")
                    if not dry_run:
                        storage.delete_manifest(repo, r)
            roots = [r for r in roots if r in keep]
        for r in roots:
            lines.append(f"{repo}: marking manifest {r}")
            marked.add(r)
            stack = [r]
            while stack:
                for c in _children(storage, stack.pop()):
                    if c not in marked:
                        marked.add(c)
                        stack.append(c)
    for repo, ident, started in storage.uploads():
        if time.time() - started > upload_max_age:
            lines.append(f"{repo}: upload {ident} abandoned, removed")
            if not dry_run:
                storage.purge_upload(repo, ident)
    swept = 0
    for b in storage.all_blobs():
        if b not in marked:
            lines.append(f"blob eligible for deletion: {b}")
            swept += 1
            if not dry_run:
                storage.remove_blob(b)
    lines.append(
        f"{len(marked)} blobs marked, {swept} blobs {'eligible for deletion' if dry_run else 'deleted'}"
    )
    return lines
