"""What the builder needs from the rest of the engine, declared here by the
consumer (moby's builder.Backend, narrowed): run a RUN step's container, read
and commit layers, resolve, pull, tag and store images. `daemon/main.py` wires
the daemon's services to these (the container service through
`daemon/services/buildsteps.py`), so the builder never imports the daemon.

A RUN step's life, as the builder drives it:

    cid = steps.create({"Image": parent_id, "Cmd": argv, ...})
    status = await steps.run(cid, on_output)    # output frames until it exits
    steps.release_rootfs(cid)                   # its upper dir is final now
    layer = layers.layer_of(cid, parent_snapshot)
    image_id = layers.store_image(config, parent_id)
    await steps.remove(cid)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from dockyard.store.images import Image, Layer

__all__ = ["ImageRecords", "ImageSource", "LayerStore", "Output", "StepRunner"]

Output = Callable[[int, bytes], Awaitable[None]]  # (stream: 1 stdout / 2 stderr, data)


class StepRunner(Protocol):
    """Runs a RUN step's container."""

    def create(self, body: dict[str, Any]) -> str:
        """A new container from an Engine API create body; its id."""
        ...

    async def run(self, cid: str, output: Output) -> int:
        """Start it, hand its output to `output` until it ends; its exit status.
        A cancelled caller does not cut the start short (the removal kills it)."""
        ...

    def release_rootfs(self, cid: str) -> None:
        """Blocking: unmount its rootfs (if mounted), so its upper dir can be read."""
        ...

    async def remove(self, cid: str) -> None:
        """Remove it, killing it if it still runs."""
        ...


class ImageRecords(Protocol):
    """The image store's records, by id."""

    def exists(self, image_id: str) -> bool: ...

    def get(self, image_id: str) -> Image: ...


class ImageSource(Protocol):
    """Images by reference: the FROM and `COPY --from` images, and the tags."""

    @property
    def store(self) -> ImageRecords: ...

    def resolve(self, ref_or_id: str) -> Image: ...

    async def pull(self, from_image: str, tag: str = "", platform: str = "") -> None: ...

    async def tag(self, name: str, repo: str, tag: str = "") -> None: ...


class LayerStore(Protocol):
    """Layers and image configs as the image store keeps them."""

    def layer_of(self, container_id: str, parent_snapshot: str | None) -> Layer:
        """Blocking: a snapshot's upper dir (keyed like its container) as a stored layer."""
        ...

    def store_image(self, cfg: dict[str, Any], parent_id: str = "") -> str:
        """Blocking: write an image config whose layers are stored; returns its id."""
        ...
