"""What a daemon router hands its service for a request with many options, as moby's
api/types/backend (`CommitConfig`, the import's options): one typed record that the
router's Backend protocol and the service both name, instead of a long keyword list
written out on each side."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CommitConfig:
    """`POST /commit`: the container, the new image's name, its history entry, whether
    to pause while the layer is read, Dockerfile `changes` and a config to merge."""

    container: str
    repo: str = ""
    tag: str = ""
    comment: str = ""
    author: str = ""
    pause: bool = True
    changes: list[str] = field(default_factory=list)
    config: dict[str, Any] | None = None


@dataclass(frozen=True)
class ImportConfig:
    """`POST /images/create?fromSrc=-`: the rootfs archive as the request body streams
    it, the new image's name, Dockerfile `changes`, its history message, its platform."""

    body: AsyncIterator[bytes]
    repo: str = ""
    tag: str = ""
    changes: list[str] = field(default_factory=list)
    message: str = ""
    platform: str = ""
