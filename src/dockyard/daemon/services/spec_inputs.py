"""The typed inputs of the OCI spec builder (`spec_builder.build_spec`).

Everything the builder needs that is not in the container's own Config/HostConfig:
what the host said (`HostFacts`, gathered by `spec_host`), the namespaces taken from
other containers (`Joins`, from `shared_ns`), the mounts a start adds (`SpecMounts`),
what the network decided (`Sandbox`) and the daemon's flags (`SecurityDefaults`).
Plain frozen data, so that the builder is one pure function of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class User:
    """Config.User resolved against the container's passwd and group files."""

    uid: int
    gid: int
    additional_gids: list[int] = field(default_factory=list)
    home: str = "/"


@dataclass(frozen=True)
class HostDevice:
    """What ``stat`` says of a ``--device`` path on the host."""

    type: str  # "c" or "b"
    major: int
    minor: int
    mode: int
    uid: int
    gid: int


@dataclass(frozen=True)
class SecurityDefaults:
    """The daemon-wide settings a container starts from (dockerd's flags)."""

    seccomp_profile: dict[str, Any] | None = None  # Docker format; None: unconfined
    default_ulimits: dict[str, tuple[int, int]] = field(default_factory=dict)
    userns_remap: tuple[int, int, int] | None = None  # (uid base, gid base, size)


@dataclass(frozen=True)
class HostFacts:
    """What the host and the container's rootfs say, read before the spec is built.

    known_caps: the capabilities this kernel has and the daemon may hand out (its
    bounding set), in kernel order. devices: ``--device`` host paths and what stat
    says of them. host_devices: every device under the host's /dev (``--privileged``
    only; empty otherwise)."""

    user: User
    known_caps: tuple[str, ...]
    devices: Mapping[str, HostDevice] = field(default_factory=dict)
    host_devices: tuple[tuple[str, HostDevice], ...] = ()


@dataclass(frozen=True)
class Joins:
    """Namespaces taken from another container (``--pid/--ipc container:X``) and the
    host tmpfs that serves as /dev/shm (``--ipc shareable`` and its joiners)."""

    pid: str | None = None  # /proc/PID/ns/pid of the other container's init
    ipc: str | None = None
    shm_source: str | None = None


@dataclass(frozen=True)
class SpecMounts:
    """Bind mounts a start adds beside Docker's defaults, in the spec's order: the
    /etc files the daemon wrote, docker-init, then the volume layer's mounts."""

    etc_files: tuple[tuple[str, str], ...] = ()  # (path in the container, host file)
    init_binary: str | None = None  # bound at /sbin/docker-init when HostConfig.Init
    volumes: tuple[dict[str, Any], ...] = ()


class Sandbox(Protocol):
    """What the network side decided for this start (the container service's
    ``SandboxInfo`` satisfies it)."""

    @property
    def netns(self) -> str | None: ...  # a path; "host"; None: a fresh namespace

    @property
    def hostname(self) -> str | None: ...

    @property
    def env(self) -> tuple[str, ...]: ...
