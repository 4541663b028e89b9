"""The image service: implements the images router's backend over the content
store, the image store and the overlay snapshotter. Blocking work (unpacking,
hashing, removing trees) runs in threads; events are published from the loop.

Deleting follows dockerd's ImageDelete (daemon/images/image_delete.go): a
name untags first and deletes only the last reference; an id deletes the
image with its references when they all belong to one repository; containers
using an image block both unless forced (running ones even then).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from dockyard import __version__
from dockyard.api.backend import ImportConfig
from dockyard.api.errors import Conflict, InvalidParameter, NoSuchImage, NotFound
from dockyard.api.filters import labels_match
from dockyard.api.timefilters import unix_time
from dockyard.daemon.services import imagehistory
from dockyard.daemon.services.bodypipe import BodyPipe, read_in_thread
from dockyard.daemon.services.events import EventBus
from dockyard.daemon.services.image_delete import (
    is_id_reference,
    remove_stored,
    single_repository,
)
from dockyard.proto import reference as refs
from dockyard.proto.changes import apply_changes
from dockyard.proto.image import (
    api_container_config,
    import_config,
    parse_platform,
    parse_rfc3339,
)
from dockyard.proto.reference import Reference
from dockyard.proto.timetypes import rfc3339_nano
from dockyard.proto.units import human_size
from dockyard.snapshot import OverlaySnapshotter
from dockyard.store import archive
from dockyard.store import gc as store_gc
from dockyard.store.compression import decompressed
from dockyard.store.content import ContentStore, FileContentStore
from dockyard.store.images import Image, ImageStore, Layer
from dockyard.store.paths import StorePaths

__all__ = ["Image", "ImageService", "open_image_service"]

UsageCheck = Callable[[str], list[str]]


def open_image_service(data_root: Path, events: EventBus) -> ImageService:
    """Create the directories under `data_root` and open the stores."""
    paths = StorePaths.under(Path(data_root))
    for d in paths.all_dirs():
        d.mkdir(parents=True, exist_ok=True)
    content = FileContentStore(paths)
    store = ImageStore(str(paths.db), content)
    snapshotter = OverlaySnapshotter.open(Path(data_root))
    store_gc.collect(
        content, store, snapshotter, stale_extracts=True
    )  # an import cut short by a crash
    return ImageService(paths, content, store, snapshotter, events)


def _unused(image_id: str) -> list[str]:
    return []


@dataclass(eq=False)
class ImageService:
    paths: StorePaths
    content: ContentStore
    store: ImageStore
    snapshotter: OverlaySnapshotter
    events: EventBus
    # a factory: a function as the default would be read through the class, as a method
    _in_use: UsageCheck = field(default_factory=lambda: _unused, init=False)
    _running: UsageCheck | None = field(default=None, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    @property
    def ingest_dir(self) -> Path:
        """Where a push writes compressed copies of layers (registry.client.sink)."""
        return self.paths.ingest

    def set_usage_check(self, fn: UsageCheck, running: UsageCheck | None = None) -> None:
        """`fn(image_id)` -> ids of containers using the image; `running`, if
        given, the subset that is running (whose use even `force` can't override)."""
        self._in_use = fn
        self._running = running

    def close(self) -> None:
        self.store.close()
        self.snapshotter.close()

    # -- lookup ---------------------------------------------------------------

    def resolve(self, ref_or_id: str) -> Image:
        """An image by name[:tag], name@digest, or (short) id; NoSuchImage otherwise."""
        image_id = self._resolve_id(ref_or_id)
        try:
            return self.store.get(image_id)
        except NotFound:
            raise self._no_such(ref_or_id) from None

    def _resolve_id(self, ref_or_id: str) -> str:
        if not ref_or_id:
            raise InvalidParameter("invalid reference format")
        if refs.is_full_id(ref_or_id):
            image_id = "sha256:" + ref_or_id.removeprefix("sha256:")
            if self.store.exists(image_id):
                return image_id
            raise NoSuchImage(image_id if ref_or_id.startswith("sha256:") else ref_or_id)
        try:
            ref = refs.parse_normalized(ref_or_id)
        except refs.InvalidReference:
            if ref_or_id.startswith("sha256:") and refs.short_id_prefix(ref_or_id):
                ref = None  # "sha256:abc" is only ever an id prefix
            else:
                raise
        if ref is not None:
            found = self.store.lookup(ref.tag_name_only())
            if found is not None:
                return found
        prefix = refs.short_id_prefix(ref_or_id)
        if prefix is not None:
            ids = self.store.search(prefix)
            if len(ids) == 1:
                return ids[0]
        raise self._no_such(ref_or_id)

    @staticmethod
    def _no_such(ref_or_id: str) -> NoSuchImage:
        try:
            return NoSuchImage(refs.parse_normalized(ref_or_id).tag_name_only().familiar())
        except refs.InvalidReference:
            return NoSuchImage(ref_or_id)

    # -- import ---------------------------------------------------------------

    async def import_image(self, req: ImportConfig) -> str:
        """`docker import -`: a rootfs tar (plain or compressed) becomes a one-layer image."""
        ref = refs.parse_repository_tag(req.repo, req.tag) if req.repo else None
        if req.tag and not req.repo:
            raise InvalidParameter("tag without repository")
        plat = parse_platform(req.platform)
        container_config = apply_changes({}, list(req.changes))
        image_id = await read_in_thread(
            req.body, lambda pipe: self._import_sync(pipe, container_config, req.message, plat)
        )
        if ref is not None:
            self._tag(image_id, ref)
        self.events.publish("image", "import", image_id, {"name": image_id})
        return image_id

    def _import_sync(
        self,
        pipe: BodyPipe,
        container_config: dict[str, Any],
        message: str,
        plat: tuple[str, str, str],
    ) -> str:
        _, raw = decompressed(pipe)  # type: ignore[arg-type]
        layer = self.unpack_layer(raw, None)
        created = rfc3339_nano()
        cfg = import_config(container_config, layer.diff_id, message, plat, created, __version__)
        return self.store.create(json.dumps(cfg, separators=(",", ":")).encode())

    def unpack_layer(self, tar: BinaryIO, parent: str | None) -> Layer:
        """Unpack an uncompressed layer tar onto the snapshot `parent` (a chain id); see store.archive."""
        return archive.unpack_layer(self.content, self.store, self.snapshotter, tar, parent)

    async def pull(self, from_image: str, tag: str = "", platform: str = "") -> None:
        ref = refs.parse_repository_tag(from_image, tag) if from_image else None
        name = ref.familiar() if ref else from_image
        raise InvalidParameter(
            f"pull access denied for {name}: pulling from a registry is not implemented yet "
            "(use docker load or docker import)"
        )

    # -- tag ------------------------------------------------------------------

    async def tag(self, name: str, repo: str, tag: str = "") -> None:
        image = self.resolve(name)
        if not repo:
            raise InvalidParameter("repository name must have at least one component")
        ref = refs.parse_repository_tag(repo, tag)
        self._tag(image.id, ref)

    def _tag(self, image_id: str, ref: Reference) -> None:
        self.store.add_reference(ref, image_id, tag_time=rfc3339_nano())
        self.events.publish("image", "tag", image_id, {"name": ref.familiar()})

    # -- list / inspect / history --------------------------------------------

    def list_images(
        self,
        show_all: bool = False,
        filters: dict[str, list[str]] | None = None,
        digests: bool = False,
    ) -> list[dict[str, Any]]:
        filters = filters or {}
        for key in filters:
            if key not in ("dangling", "label", "reference", "before", "since", "until"):
                raise InvalidParameter(f"invalid filter '{key}'")
        images = self.store.list()
        if not show_all:
            # as dockerd: untagged parents of other images (a build's steps) are
            # intermediate images, listed only with -a
            parents = {i.parent for i in images if i.parent}
            images = [i for i in images if i.references or i.id not in parents]
        dangling = filters.get("dangling")
        if dangling:
            if dangling[-1] not in ("true", "false", "1", "0"):
                raise InvalidParameter(f"Invalid filter 'dangling={dangling[-1]}'")
            want = dangling[-1] in ("true", "1")
            images = [i for i in images if (not i.repo_tags) == want]
        if "label" in filters:
            images = [i for i in images if labels_match(i.labels, {"label": filters["label"]})]
        if "before" in filters:
            t = min(parse_rfc3339(self.resolve(r).created) for r in filters["before"])
            images = [i for i in images if parse_rfc3339(i.created) < t]
        if "since" in filters:
            t = max(parse_rfc3339(self.resolve(r).created) for r in filters["since"])
            images = [i for i in images if parse_rfc3339(i.created) > t]
        if "reference" in filters:
            images = [i for i in images if any(_ref_match(i, p) for p in filters["reference"])]
        return [self.summary(i) for i in images]

    def summary(self, i: Image) -> dict[str, Any]:
        return {
            "Containers": -1,
            "Created": int(parse_rfc3339(i.created)),
            "Id": i.id,
            "Labels": i.labels or None,
            "ParentId": i.parent,
            "RepoDigests": list(i.repo_digests),
            "RepoTags": list(i.repo_tags),
            "SharedSize": -1,
            "Size": i.size,
        }

    def inspect(self, name: str) -> dict[str, Any]:
        i = self.resolve(name)
        cfg = i.config
        graph: dict[str, Any] = {"Name": "overlay2", "Data": None}
        if i.snapshot:
            dirs = self.snapshotter.chain_dirs(i.snapshot)
            top = dirs[0].parent
            data = {
                "MergedDir": str(top / "merged"),
                "UpperDir": str(dirs[0]),
                "WorkDir": str(top / "work"),
            }
            if len(dirs) > 1:
                data["LowerDir"] = ":".join(str(d) for d in dirs[1:])
            graph["Data"] = data
        out: dict[str, Any] = {
            "Id": i.id,
            "RepoTags": list(i.repo_tags),
            "RepoDigests": list(i.repo_digests),
            "Parent": i.parent,
            "Comment": cfg.get("comment", ""),
            "Created": cfg.get("created") or "",
            "DockerVersion": cfg.get("docker_version", ""),
            "Author": cfg.get("author", ""),
            "Config": api_container_config(cfg.get("config")),
            "Architecture": cfg.get("architecture", ""),
            "Os": cfg.get("os", ""),
            "Size": i.size,
            "GraphDriver": graph,
            "RootFS": {
                "Type": (cfg.get("rootfs") or {}).get("type", "layers"),
                "Layers": i.diff_ids,
            },
            "Metadata": {"LastTagTime": i.last_tag_time},
        }
        if cfg.get("variant"):
            out["Variant"] = cfg["variant"]
        if cfg.get("container"):
            out["Container"] = cfg["container"]
        if cfg.get("container_config"):
            out["ContainerConfig"] = api_container_config(cfg["container_config"])
        return out

    def history(self, name: str) -> list[dict[str, Any]]:
        i = self.resolve(name)
        layers = [self.store.layer(d) for d in i.diff_ids]
        out: list[dict[str, Any]] = []
        li = 0
        for h in i.config.get("history") or []:
            size = 0
            if not h.get("empty_layer"):
                layer = layers[li] if li < len(layers) else None
                size = layer.size if layer else 0
                li += 1
            out.append(
                {
                    "Comment": h.get("comment", ""),
                    "Created": int(parse_rfc3339(h.get("created"))),
                    "CreatedBy": h.get("created_by", ""),
                    "Id": "<missing>",
                    "Size": size,
                    "Tags": None,
                }
            )
        out.reverse()
        imagehistory.name_lines(out, i, self.store)
        return out

    # -- save / load ----------------------------------------------------------

    def save_plan(self, names: list[str]) -> list[archive.SaveItem]:
        """What `docker save NAMES` writes: each image once; a tag brings that tag,
        a bare repository name all its tags, an id none. Raises before any output."""
        if not names:
            raise InvalidParameter("no image names given")
        items: dict[str, archive.SaveItem] = {}
        for name in names:
            image = self.resolve(name)
            item = items.setdefault(image.id, archive.SaveItem(image))
            if is_id_reference(name, image.id):
                continue
            ref = refs.parse_normalized(name)
            if ref.tag is None and ref.digest is None:
                wanted = [r for r in image.references if r.name == ref.name and r.digest is None]
            elif ref.digest is None:
                wanted = [ref]
            else:
                wanted = []
            item.refs.extend(r for r in wanted if r not in item.refs)
        return list(items.values())

    async def save(self, plan: list[archive.SaveItem], write: Callable[[bytes], Any]) -> None:
        """Stream the archive of `plan` through the coroutine function `write`."""
        loop = asyncio.get_running_loop()
        buf = bytearray()

        def put(data: bytes) -> None:
            buf.extend(data)
            if len(buf) >= 1 << 20:
                flush()

        def flush() -> None:
            if buf:
                asyncio.run_coroutine_threadsafe(write(bytes(buf)), loop).result()
                buf.clear()

        def work() -> None:
            archive.save(self.content, self.store, plan, put)
            flush()

        await asyncio.to_thread(work)
        for item in plan:
            self.events.publish("image", "save", item.image.id, {"name": item.image.id})

    async def load(
        self,
        body: AsyncIterator[bytes],
        platform: str = "",
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> list[str]:
        """`docker load`: returns the lines docker prints ("Loaded image: busybox:latest").
        `progress`, if given, gets docker's "Loading layer" JSON messages (on the loop)."""
        plat = parse_platform(platform)
        loop = asyncio.get_running_loop()
        hook = None
        if progress is not None:

            def hook(diff_id: str, done: int, total: int) -> None:
                loop.call_soon_threadsafe(progress, load_progress(diff_id, done, total))

        def work(pipe: BodyPipe) -> list[archive.Loaded]:
            return archive.load(self.content, self.store, self.snapshotter, pipe, plat, hook)  # type: ignore[arg-type]

        loaded = await read_in_thread(body, work)
        lines: list[str] = []
        for item in loaded:
            for ref in item.refs:
                old = self.store.lookup(ref)
                if old is not None and old != item.image_id:
                    lines.append(
                        f"The image {ref.familiar()} already exists, renaming the old one with ID {old} to empty string"
                    )
                self._tag(item.image_id, ref)
            self.events.publish("image", "load", item.image_id, {"name": item.image_id})
            if item.refs:
                lines.extend(f"Loaded image: {r.familiar()}" for r in item.refs)
            else:
                lines.append(f"Loaded image ID: {item.image_id}")
        return lines

    # -- prune / gc / check ---------------------------------------------------

    async def prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """`docker image prune`: dangling images (or, with dangling=false, all unused ones)."""
        filters = filters or {}
        for key in filters:
            if key not in ("dangling", "label", "label!", "until"):
                raise InvalidParameter(f"invalid filter '{key}'")
        dangling_only = (filters.get("dangling") or ["true"])[-1] not in ("false", "0")
        until = None
        if filters.get("until"):
            until = unix_time(filters["until"][-1])
        deleted: list[dict[str, str]] = []
        reclaimed = 0
        for image in self.store.list():
            if dangling_only and image.repo_tags:
                continue
            if self._in_use(image.id):
                continue
            if not labels_match(image.labels, filters):
                continue
            if until is not None and parse_rfc3339(image.created) >= until:
                continue
            try:
                records = await self.delete(
                    image.id, force=not dangling_only and bool(image.repo_tags)
                )
            except (Conflict, NotFound):
                continue
            deleted.extend(records)
            reclaimed += image.size
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def gc(self) -> store_gc.Collected:
        """Remove blobs, layer records and snapshots no image refers to."""
        return store_gc.collect(self.content, self.store, self.snapshotter)

    def check(self, verify_digests: bool = False, dangling: bool = False) -> list[str]:
        """Problems found in the stores (empty when consistent); see store.gc.check."""
        return store_gc.check(self.content, self.store, self.snapshotter, verify_digests, dangling)

    # -- delete ---------------------------------------------------------------

    async def delete(
        self, name: str, force: bool = False, noprune: bool = False
    ) -> list[dict[str, str]]:
        async with self._lock:
            records: list[dict[str, str]] = []
            image = self.resolve(name)
            image_id = image.id
            repo_refs = self.store.references(image_id)
            by_id = is_id_reference(name, image_id)
            if not by_id:
                ref = refs.parse_normalized(name).tag_name_only()
                if not force and single_repository(repo_refs):
                    users = self._in_use(image_id)
                    if users:
                        raise Conflict(
                            f'conflict: unable to remove repository reference "{name}" (must force) - '
                            f"container {refs.truncate_id(users[0])} is using its referenced image "
                            f"{refs.truncate_id(image_id)}"
                        )
                self._untag(image_id, ref, records)
                repo_refs = self.store.references(image_id)
                if ref.digest is None and not any(
                    r.digest is None and r.name == ref.name for r in repo_refs
                ):
                    for r in repo_refs:
                        if r.digest is not None and r.name == ref.name:
                            self._untag(image_id, r, records)
                    repo_refs = self.store.references(image_id)
                if repo_refs:
                    return records
                quiet = True
            else:
                quiet = False
                if single_repository(repo_refs):
                    self._check_conflict(image_id, force, ignore_refs=True)
                    for r in repo_refs:
                        self._untag(image_id, r, records)
            try:
                self._check_conflict(image_id, force)
            except Conflict:
                if quiet:
                    return records
                raise
            for r in self.store.references(image_id):
                self._untag(image_id, r, records)
            removed = await asyncio.to_thread(
                remove_stored, self.content, self.store, self.snapshotter, image
            )
            self.events.publish("image", "delete", image_id, {"name": image_id})
            records.append({"Deleted": image_id})
            records.extend({"Deleted": c} for c in removed)
            if not noprune:
                await self._prune_parents(image.parent, records)
            return records

    async def _prune_parents(self, parent_id: str, records: list[dict[str, str]]) -> None:
        """dockerd's rmi without --no-prune: untagged parents (a build's
        intermediate images) left without children go too, up the chain."""
        while parent_id and self.store.exists(parent_id):
            parent = self.store.get(parent_id)
            if parent.references or self._in_use(parent_id):
                return
            if any(i.parent == parent_id for i in self.store.list()):
                return
            removed = await asyncio.to_thread(
                remove_stored, self.content, self.store, self.snapshotter, parent
            )
            self.events.publish("image", "delete", parent_id, {"name": parent_id})
            records.append({"Deleted": parent_id})
            records.extend({"Deleted": c} for c in removed)
            parent_id = parent.parent

    def _untag(self, image_id: str, ref: Reference, records: list[dict[str, str]]) -> None:
        self.store.remove_reference(ref)
        records.append({"Untagged": ref.familiar()})
        self.events.publish("image", "untag", image_id, {"name": ref.familiar()})

    def _check_conflict(self, image_id: str, force: bool, ignore_refs: bool = False) -> None:
        running = self._running(image_id) if self._running else []
        if running:
            raise Conflict(
                f"conflict: unable to delete {refs.truncate_id(image_id)} (cannot be forced) - "
                f"image is being used by running container {refs.truncate_id(running[0])}"
            )
        if force:
            return
        if not ignore_refs and len({r.name for r in self.store.references(image_id)}) > 1:
            raise Conflict(
                f"conflict: unable to delete {refs.truncate_id(image_id)} (must be forced) - "
                "image is referenced in multiple repositories"
            )
        users = self._in_use(image_id)
        if users:
            # Without a running check every user counts as stopped (a soft conflict).
            raise Conflict(
                f"conflict: unable to delete {refs.truncate_id(image_id)} (must be forced) - "
                f"image is being used by stopped container {refs.truncate_id(users[0])}"
            )


def load_progress(diff_id: str, done: int, total: int) -> dict[str, Any]:
    """dockerd's "Loading layer" progress message (jsonmessage with a 50-wide bar)."""
    width = 50
    filled = width * done // total if total else width
    bar = "=" * filled + (">" if filled < width else "") + " " * max(0, width - filled - 1)
    if filled >= width:
        bar = "=" * (width - 1) + ">"
    text = f"[{bar}]  {human_size(done)}/{human_size(total)}"
    return {
        "status": "Loading layer",
        "progressDetail": {"current": done, "total": total},
        "progress": text,
        "id": diff_id.removeprefix("sha256:")[:12],
    }


def _ref_match(image: Image, pattern: str) -> bool:
    import fnmatch

    for r in image.references:
        if r.digest is not None:
            continue
        familiar = r.familiar()
        if fnmatch.fnmatchcase(familiar, pattern) or fnmatch.fnmatchcase(r.familiar_name, pattern):
            return True
    return False
