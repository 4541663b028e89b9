"""A build's options and the state a stage carries from step to step (the image
it is at, that image's config, declared ARGs, whether CMD was set, the author).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
Emit = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class BuildOptions:
    dockerfile: str = "Dockerfile"
    tags: list[str] = field(default_factory=list)
    buildargs: dict[str, str | None] = field(default_factory=dict)
    target: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    nocache: bool = False
    quiet: bool = False
    rm: bool = True
    forcerm: bool = False
    networkmode: str = ""
    extrahosts: list[str] = field(default_factory=list)
    cachefrom: list[str] = field(default_factory=list)
    pull: bool = False
    platform: str = ""
    resources: dict[str, Any] = field(default_factory=dict)  # RUN's limits (HostConfig)


@dataclass
class StepState:
    image_id: str  # "" for scratch
    config: dict[str, Any]  # the whole image config
    snapshot: str | None
    args: dict[str, str | None] = field(default_factory=dict)  # declared ARGs
    cmd_set: bool = False
    author: str = ""

    @property
    def cc(self) -> dict[str, Any]:
        return self.config.setdefault("config", {})

    def env(self) -> dict[str, str]:
        out = {k: v for k, v in self.args.items() if v is not None}
        for kv in self.cc.get("Env") or []:
            k, _, v = kv.partition("=")
            out[k] = v
        return out
