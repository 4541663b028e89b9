"""What the registry client needs of the daemon's image storage, declared here so
that pull and push name it instead of taking the image service whole.

A pull writes through the one layer path (`store.archive.extract_layer` then
`commit_layer`): blobs into a content store, each layer unpacked into a snapshot and
recorded in the image store, then the image's config. A push reads layers and the
config back out of the same stores and needs a directory for the compressed copies
it uploads. The image service satisfies both (`daemon/services/images.py`); so does
any set of the three stores (tests/integration/registry/test_sink.py runs pull and
push through both).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from dockyard.snapshot import Snapshotter
from dockyard.store.content import ContentStore
from dockyard.store.images import ImageStore

__all__ = ["ImageStores", "PullSink", "PushSource"]


class ImageStores(Protocol):
    """What both read and write: blobs and configs in ``content``, images and their
    layers in ``store``."""

    @property
    def content(self) -> ContentStore: ...

    @property
    def store(self) -> ImageStore: ...


class PullSink(ImageStores, Protocol):
    """Where a pull puts what it fetches: blobs (and resumable ingests) in
    ``content``, layers unpacked in ``snapshotter`` and recorded, with the image's
    config, in ``store``."""

    @property
    def snapshotter(self) -> Snapshotter: ...


class PushSource(ImageStores, Protocol):
    """What a push reads: the image's layers (``store``) and their blobs and config
    (``content``); ``ingest_dir``: where compressed copies of uncompressed layers
    are written before they are uploaded (removed after)."""

    @property
    def ingest_dir(self) -> Path: ...
