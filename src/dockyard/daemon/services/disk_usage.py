"""Disk usage (`GET /system/df`): images with their shared and unique sizes,
containers with their writable-layer sizes, volumes and build cache.

Sizes follow dockerd's (daemon/images/image_list.go, daemon/disk_usage.go):
an image's `SharedSize` is the sum of its layers that another image also
uses (by chain id), `LayersSize` the sum of all distinct layers once, and
`Containers` the number of containers created from the image. A container's
`SizeRw` is its upper dir; `SizeRootFs` adds its image. Container sizes walk
the upper dirs, so they are computed in a thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

from dockyard.api.errors import InvalidParameter, NotFound
from dockyard.proto.image import chain_ids

TYPES = ("container", "image", "volume", "build-cache")


class ContainerSource(Protocol):
    def list(self, all: bool = False, limit: int | None = None) -> list[Any]: ...


class DiskUsageService:
    def __init__(
        self,
        images: Any,
        containers: ContainerSource,
        container_summary: Callable[[Any, float], dict[str, Any]],
        volumes: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.images = images
        self.containers = containers
        self.container_summary = container_summary
        self.volumes = volumes or (lambda: [])

    async def usage(self, types: list[str] | None = None) -> dict[str, Any]:
        for t in types or []:
            if t not in TYPES:
                raise InvalidParameter(f"invalid type: {t}")
        want = set(types or TYPES)
        return await asyncio.to_thread(self._usage, want)

    def _usage(self, want: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        containers = self.containers.list(all=True)
        if "image" in want:
            out["LayersSize"], out["Images"] = self._images(containers)
        if "container" in want:
            out["Containers"] = [self._container(c) for c in containers]
        if "volume" in want:
            out["Volumes"] = self.volumes()
        if "build-cache" in want:
            out["BuildCache"] = []
        return out

    def _images(self, containers: list[Any]) -> tuple[int, list[dict[str, Any]]]:
        store = self.images.store
        images = store.list()
        layer_size: dict[str, int] = {}
        refs: dict[str, int] = {}
        chains_of: dict[str, list[str]] = {}
        for image in images:
            chains = chain_ids(image.diff_ids)
            chains_of[image.id] = chains
            for diff_id, chain in zip(image.diff_ids, chains, strict=True):
                refs[chain] = refs.get(chain, 0) + 1
                if chain not in layer_size:
                    layer = store.layer(diff_id)
                    layer_size[chain] = layer.size if layer is not None else 0
        users: dict[str, int] = {}
        for c in containers:
            users[c.image_id] = users.get(c.image_id, 0) + 1
        summaries = []
        for image in images:
            s = self.images.summary(image)
            s["SharedSize"] = sum(layer_size[ch] for ch in chains_of[image.id] if refs[ch] > 1)
            s["Containers"] = users.get(image.id, 0)
            summaries.append(s)
        return sum(layer_size.values()), summaries

    def _container(self, c: Any) -> dict[str, Any]:
        s = self.container_summary(c, time.time())
        s["SizeRw"], s["SizeRootFs"] = container_sizes(self.images, c)
        return s


def rw_size(snapshotter: Any, container_id: str) -> int:
    """The bytes of a container's writable layer (0 when it has none). Walks a tree:
    call it in a thread."""
    try:
        return int(snapshotter.usage(container_id).size)
    except NotFound:
        return 0


def container_sizes(images: Any, c: Any) -> tuple[int, int]:
    """(SizeRw, SizeRootFs) as dockerd's `?size=1` and /system/df give them."""
    size_rw = rw_size(images.snapshotter, c.id)
    try:
        image_size = images.store.get(c.image_id).size
    except NotFound:
        image_size = 0
    return size_rw, size_rw + image_size
