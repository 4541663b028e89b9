"""`docker commit` and the builder's layer step: a container's overlay upper
dir becomes a layer (Docker whiteouts, `dockyard.snapshot.diff`), stored
through the image store's public pieces (`ImageService.unpack_layer`,
`ImageStore.create`), and a new image config is written on top of the
parent's: container config (+ `--change` lines), rootfs, one history entry.

The diff is spooled to a temporary file under the store's tmp dir and then
unpacked onto the parent's snapshot (the same path as `docker load`), so the
committed snapshot is an ordinary, immutable chain-id snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from dockyard.api.backend import CommitConfig
from dockyard.api.errors import InvalidParameter
from dockyard.daemon.services.containers import ContainerService
from dockyard.daemon.services.events import EventBus
from dockyard.daemon.services.images import ImageService
from dockyard.proto import reference as refs
from dockyard.proto.changes import apply_changes
from dockyard.proto.image import image_config
from dockyard.snapshot.diff import write_diff
from dockyard.snapshot.snapshotter import upper_dir
from dockyard.store.images import Layer

__all__ = ["CommitService"]


class Freezer(Protocol):
    """What `pause=true` needs: a running container frozen for a moment."""

    def frozen(self, c: Any) -> contextlib.AbstractAsyncContextManager[None]: ...


@dataclass(eq=False)
class CommitService:
    containers: ContainerService
    images: ImageService
    events: EventBus
    freezer: Freezer | None = None

    # -- building blocks (shared with the builder) -----------------------------

    def layer_of(self, container_id: str, parent_snapshot: str | None) -> Layer:
        """Blocking: the container's upper dir as a stored layer on `parent_snapshot`."""
        upper = upper_dir(self.images.snapshotter.mounts(container_id))
        with tempfile.TemporaryFile(dir=self.images.paths.tmp) as spool:
            write_diff(upper, spool.write)
            spool.seek(0)
            return self.images.unpack_layer(spool, parent_snapshot)  # type: ignore[arg-type]

    def store_image(self, cfg: dict[str, Any], parent_id: str = "") -> str:
        """Blocking: write an image config whose layers are stored; returns its id."""
        return self.images.store.create(
            json.dumps(cfg, separators=(",", ":")).encode(), parent=parent_id
        )

    @contextlib.asynccontextmanager
    async def _paused(self, c: Any, pause: bool) -> AsyncIterator[None]:
        if pause and c.running and self.freezer is not None:
            async with self.freezer.frozen(c):
                yield
        else:
            yield

    # -- POST /commit -----------------------------------------------------------

    async def commit(self, req: CommitConfig) -> str:
        c = self.containers.get(req.container)
        if req.tag and not req.repo:
            raise InvalidParameter("tag without repository")
        ref = refs.parse_repository_tag(req.repo, req.tag) if req.repo else None
        parent = self.images.store.get(c.image_id)
        new_config = copy.deepcopy(c.config)
        for key, value in (req.config or {}).items():
            if value not in (None, "", [], {}):
                new_config[key] = value
        new_config = apply_changes(new_config, list(req.changes))
        created_by = " ".join([c.path, *c.args]) if c.path else ""
        async with self._paused(c, req.pause):
            layer = await asyncio.to_thread(self.layer_of, c.id, parent.snapshot)
        cfg = image_config(
            parent.config,
            new_config,
            created_by,
            layer.diff_id,
            comment=req.comment,
            author=req.author,
            container_id=c.id,
            ordinary_container_config=copy.deepcopy(c.config),
        )
        image_id = await asyncio.to_thread(self.store_image, cfg, parent.id)
        if ref is not None:
            await self.images.tag(image_id, ref.familiar_name, ref.tag or "latest")
        self.events.publish(
            "container",
            "commit",
            c.id,
            {
                "comment": req.comment,
                "imageID": image_id,
                "imageRef": ref.familiar() if ref else "",
                "name": c.name.lstrip("/"),
                "image": c.image,
            },
        )
        return image_id
