"""A container as the daemon keeps it: its record (`Container`, written to disk by
`container_store`), its in-memory link state (`Live`), the state vocabulary
(`initial_state`, `status_text`, `restart_policy`) and the seams the container
service reaches other layers through (image provider, network attacher, volume
mounter), declared here so every piece of the container service shares them
without importing one another.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from dockyard.api.errors import InvalidParameter
from dockyard.daemon.services.outputs import Fanout
from dockyard.daemon.services.stdin import StdinLink
from dockyard.humanize import human_duration
from dockyard.monitor import jsonlog
from dockyard.proto.image import ZERO_TIME


class ImageLike(Protocol):
    id: str
    config: dict[str, Any]
    snapshot: str | None
    repo_tags: list[str]


class ImageProvider(Protocol):
    """What the container service needs from the image service."""

    snapshotter: Any

    def resolve(self, ref_or_id: str) -> ImageLike: ...


@dataclass(frozen=True)
class SandboxInfo:
    """What the network side decided for one start of a container.

    netns: a path to bind-mounted network namespace the runtime joins; None for a
    fresh empty one (made by the runtime); "host" for the host's.
    hosts: extra /etc/hosts lines ("10.0.0.2\tname alias"); resolv_conf: the file's
    content, or None for the host's (filtered) one; hostname: the one the network
    decides (another container's network: its hostname), else the container's own.
    env: variables the network side adds (legacy links' ALIAS_PORT_*, ALIAS_ENV_*).
    """

    netns: str | None = None
    hosts: tuple[str, ...] = ()
    resolv_conf: str | None = None
    hostname: str | None = None
    env: tuple[str, ...] = ()


class NetworkAttacher(Protocol):
    """The seam to the network layer: told of each new container (it checks and keeps
    the create request's NetworkingConfig), then called around each run."""

    def created(self, c: Container, networking: dict[str, Any] | None) -> None: ...

    async def attach(self, c: Container) -> SandboxInfo: ...

    async def detach(self, c: Container) -> None: ...

    def settings(self, c: Container) -> dict[str, Any]: ...  # inspect's NetworkSettings

    def ps_ports(
        self, c: Container, settings: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...

    def remove_link(self, name: str) -> None: ...  # `docker rm --link /parent/alias`


@dataclass(eq=False)
class NetworkLayer:
    """A layer over the network seam that adds to some of its calls (legacy links,
    network events); every other call is the wrapped layer's own."""

    networks: Any  # the NetworkAttacher it wraps

    def __getattr__(self, name: str) -> Any:
        return getattr(self.networks, name)


class VolumeMounter(Protocol):
    """The seam to the volume layer: Binds/Mounts checked at create, OCI mounts for
    Binds/Mounts/Tmpfs/Volumes at each start, inspect's Mounts."""

    def validate(self, c: Container) -> None: ...

    def mount_points(self, c: Container) -> list[dict[str, Any]]: ...

    async def mounts(self, c: Container, rootfs: str) -> list[dict[str, Any]]: ...

    async def release(self, c: Container, remove_anonymous: bool) -> None: ...


class NoNetwork:
    def created(self, c: Container, networking: dict[str, Any] | None) -> None:
        return None

    def settings(self, c: Container) -> dict[str, Any]:
        return {"Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {}, "Networks": {}}

    def ps_ports(
        self, c: Container, settings: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        return []

    def remove_link(self, name: str) -> None:
        raise InvalidParameter("legacy links are not supported")

    async def attach(self, c: Container) -> SandboxInfo:
        return SandboxInfo()

    async def detach(self, c: Container) -> None:
        return None


class NoVolumes:
    def validate(self, c: Container) -> None:
        return None

    def mount_points(self, c: Container) -> list[dict[str, Any]]:
        return []

    async def mounts(self, c: Container, rootfs: str) -> list[dict[str, Any]]:
        return []

    async def release(self, c: Container, remove_anonymous: bool) -> None:
        return None


@dataclass
class Live:
    """In-memory state of a container; rebuilt on daemon start."""

    writer: asyncio.StreamWriter | None = None
    reader_task: asyncio.Task[None] | None = None
    subscribers: Fanout = field(default_factory=Fanout)
    stdin: StdinLink = field(default_factory=StdinLink)
    waiters: list[tuple[str, asyncio.Future[dict[str, Any]]]] = field(default_factory=list)
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    output: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Future[dict[str, Any]] | None = None
    linked: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    removing: bool = False
    restart_task: asyncio.Task[None] | None = None
    health_task: asyncio.Task[None] | None = None
    backoff: float = 0.0
    started_mono: float = 0.0


@dataclass
class Container:
    id: str
    name: str
    created: str
    image: str
    image_id: str
    config: dict[str, Any]
    host_config: dict[str, Any]
    path: str
    args: list[str]
    state: dict[str, Any]
    restart_count: int = 0
    manually_stopped: bool = False
    live: Live = field(default_factory=Live, repr=False, compare=False)

    @property
    def running(self) -> bool:
        return bool(self.state.get("Running"))

    def record(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Name": self.name,
            "Created": self.created,
            "Image": self.image,
            "ImageID": self.image_id,
            "Config": self.config,
            "HostConfig": self.host_config,
            "Path": self.path,
            "Args": self.args,
            "State": self.state,
            "RestartCount": self.restart_count,
            "HasBeenManuallyStopped": self.manually_stopped,
        }

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Container:
        return cls(
            id=r["ID"],
            name=r["Name"],
            created=r["Created"],
            image=r["Image"],
            image_id=r["ImageID"],
            config=r["Config"],
            host_config=r["HostConfig"],
            path=r["Path"],
            args=r["Args"],
            state=r["State"],
            restart_count=r.get("RestartCount", 0),
            manually_stopped=r.get("HasBeenManuallyStopped", False),
        )


def initial_state() -> dict[str, Any]:
    return {
        "Status": "created",
        "Running": False,
        "Paused": False,
        "Restarting": False,
        "OOMKilled": False,
        "Dead": False,
        "Pid": 0,
        "ExitCode": 0,
        "Error": "",
        "StartedAt": ZERO_TIME,
        "FinishedAt": ZERO_TIME,
    }


def restart_policy(host_config: dict[str, Any]) -> tuple[str, int]:
    rp = host_config.get("RestartPolicy") or {}
    return (rp.get("Name") or "no"), int(rp.get("MaximumRetryCount") or 0)


def status_text(state: dict[str, Any], now: float | None = None) -> str:
    now = time.time() if now is None else now
    status = state.get("Status")
    if state.get("Running"):
        started = jsonlog.parse_rfc3339_nano(state["StartedAt"]) / 1e9
        text = "Up " + human_duration(now - started)
        if state.get("Paused"):
            return text + " (Paused)"
        health = (state.get("Health") or {}).get("Status")
        if health == "starting":
            return text + " (health: starting)"
        if health in ("healthy", "unhealthy"):
            return f"{text} ({health})"
        return text
    if state.get("Restarting"):
        finished = jsonlog.parse_rfc3339_nano(state["FinishedAt"]) / 1e9
        return f"Restarting ({state.get('ExitCode', 0)}) {human_duration(now - finished)} ago"
    if status == "exited" or (status == "created" and state.get("FinishedAt") != ZERO_TIME):
        if state.get("FinishedAt", ZERO_TIME) == ZERO_TIME:
            return "Created"
        finished = jsonlog.parse_rfc3339_nano(state["FinishedAt"]) / 1e9
        return f"Exited ({state.get('ExitCode', 0)}) {human_duration(now - finished)} ago"
    if status == "dead":
        return "Dead"
    return "Created"
