"""The classic builder: runs a parsed Dockerfile, one image per step, the way
`DOCKER_BUILDKIT=0 docker build` does.

Each step starts from its parent image: RUN runs a real container (`runexec`,
through the `StepRunner` the daemon wires in) and commits its upper dir;
COPY/ADD mount a fresh snapshot of the parent, copy into it and commit it
(`copystep`); every other instruction only edits the config (`dockerfile.config`,
an `empty_layer` history entry). A build is a `BuildRun` (`run`): only the
stages the target needs are built, at once, and messages go out through `emit`
as the classic JSON stream (`stream`). What the builder needs from the rest of
the engine is declared in `needs`; it imports nothing of the daemon.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dockyard.builder.cache import BuildCache
from dockyard.builder.context import BuildContext
from dockyard.builder.errors import BuildError
from dockyard.builder.inflight import StepLocks
from dockyard.builder.needs import ImageSource, LayerStore, StepRunner
from dockyard.builder.run import BuildRun
from dockyard.builder.state import BuildOptions, Emit
from dockyard.dockerfile.parser import Dockerfile
from dockyard.snapshot.snapshotter import Snapshotter

__all__ = ["Builder", "BuildError", "BuildOptions", "Emit"]


@dataclass(eq=False)
class Builder:
    runner: StepRunner
    images: ImageSource
    layers: LayerStore
    snapshotter: Snapshotter
    cache: BuildCache
    mount_all: Callable[[list[Any], str], None]
    unmount: Callable[[str], None]
    tmp: str  # where the builder's mount points go
    # one build of a step at a time, across stages and builds
    steps: StepLocks = field(default_factory=StepLocks, init=False)

    async def build(self, df: Dockerfile, context: BuildContext, opts: BuildOptions,
                    emit: Emit) -> str:  # fmt: skip
        return await BuildRun(self, df, context, opts, emit).go()
