"""Request models of the container endpoints (Engine API 1.45 types, named as
dockerd names them in its errors): create (Config + HostConfig +
NetworkingConfig), update, and the Config a commit sends."""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Annotated, Any

from dockyard.api.errors import InvalidParameter
from dockyard.api.models.gojson import (
    Duration,
    Empty,
    FileMode,
    Int,
    Int64,
    Model,
    Ptr,
    StrSlice,
    Uint,
    Uint16,
    Uint64,
    decode_value,
    named,
    parse_literal,
)
from dockyard.api.models.network import NetworkingConfig


class HealthConfig(Model):
    __go__ = "container.HealthConfig"
    Test: list[str]
    Interval: Duration
    Timeout: Duration
    StartPeriod: Duration
    StartInterval: Duration
    Retries: Int


class Config(Model):
    __go__ = "container.Config"
    Hostname: str
    Domainname: str
    User: str
    AttachStdin: bool
    AttachStdout: bool
    AttachStderr: bool
    ExposedPorts: Annotated[dict[str, Empty], named("nat.PortSet")]
    Tty: bool
    OpenStdin: bool
    StdinOnce: bool
    Env: list[str]
    Cmd: StrSlice
    Healthcheck: Ptr[HealthConfig]
    ArgsEscaped: bool
    Image: str
    Volumes: dict[str, Empty]
    WorkingDir: str
    Entrypoint: StrSlice
    NetworkDisabled: bool
    MacAddress: str
    OnBuild: list[str]
    Labels: dict[str, str]
    StopSignal: str
    StopTimeout: Ptr[Int]
    Shell: StrSlice


class WeightDevice(Model):
    __go__ = "blkiodev.WeightDevice"
    Path: str
    Weight: Uint16


class ThrottleDevice(Model):
    __go__ = "blkiodev.ThrottleDevice"
    Path: str
    Rate: Uint64


class DeviceMapping(Model):
    __go__ = "container.DeviceMapping"
    PathOnHost: str
    PathInContainer: str
    CgroupPermissions: str


class DeviceRequest(Model):
    __go__ = "container.DeviceRequest"
    Driver: str
    Count: Int
    DeviceIDs: list[str]
    Capabilities: list[list[str]]
    Options: dict[str, str]


class Ulimit(Model):
    __go__ = "units.Ulimit"
    Name: str
    Hard: Int64
    Soft: Int64


class Resources(Model):
    __go__ = "container.Resources"
    CpuShares: Int64
    Memory: Int64
    NanoCpus: Int64
    CgroupParent: str
    BlkioWeight: Uint16
    BlkioWeightDevice: list[Ptr[WeightDevice]]
    BlkioDeviceReadBps: list[Ptr[ThrottleDevice]]
    BlkioDeviceWriteBps: list[Ptr[ThrottleDevice]]
    BlkioDeviceReadIOps: list[Ptr[ThrottleDevice]]
    BlkioDeviceWriteIOps: list[Ptr[ThrottleDevice]]
    CpuPeriod: Int64
    CpuQuota: Int64
    CpuRealtimePeriod: Int64
    CpuRealtimeRuntime: Int64
    CpusetCpus: str
    CpusetMems: str
    Devices: list[DeviceMapping]
    DeviceCgroupRules: list[str]
    DeviceRequests: list[DeviceRequest]
    KernelMemory: Int64
    KernelMemoryTCP: Int64
    MemoryReservation: Int64
    MemorySwap: Int64
    MemorySwappiness: Ptr[Int64]
    OomKillDisable: Ptr[bool]
    PidsLimit: Ptr[Int64]
    Ulimits: list[Ptr[Ulimit]]
    CpuCount: Int64
    CpuPercent: Int64
    IOMaximumIOps: Uint64
    IOMaximumBandwidth: Uint64


class LogConfig(Model):
    __go__ = "container.LogConfig"
    Type: str
    Config: dict[str, str]


class PortBinding(Model):
    __go__ = "nat.PortBinding"
    HostIp: str
    HostPort: str


class RestartPolicy(Model):
    __go__ = "container.RestartPolicy"
    Name: str
    MaximumRetryCount: Int


class BindOptions(Model):
    __go__ = "mount.BindOptions"
    Propagation: Annotated[str, named("mount.Propagation")]
    NonRecursive: bool
    CreateMountpoint: bool
    ReadOnlyNonRecursive: bool
    ReadOnlyForceRecursive: bool


class Driver(Model):
    __go__ = "mount.Driver"
    Name: str
    Options: dict[str, str]


class VolumeOptions(Model):
    __go__ = "mount.VolumeOptions"
    NoCopy: bool
    Labels: dict[str, str]
    Subpath: str
    DriverConfig: Ptr[Driver]


class TmpfsOptions(Model):
    __go__ = "mount.TmpfsOptions"
    SizeBytes: Int64
    Mode: FileMode
    Options: list[list[str]]


class Mount(Model):
    __go__ = "mount.Mount"
    Type: Annotated[str, named("mount.Type")]
    Source: str
    Target: str
    ReadOnly: bool
    Consistency: Annotated[str, named("mount.Consistency")]
    BindOptions: Ptr[BindOptions]
    VolumeOptions: Ptr[VolumeOptions]
    TmpfsOptions: Ptr[TmpfsOptions]


class HostConfig(Resources):
    __go__ = "container.HostConfig"
    Binds: list[str]
    ContainerIDFile: str
    LogConfig: LogConfig
    NetworkMode: Annotated[str, named("container.NetworkMode")]
    PortBindings: Annotated[dict[str, list[PortBinding]], named("nat.PortMap")]
    RestartPolicy: RestartPolicy
    AutoRemove: bool
    VolumeDriver: str
    VolumesFrom: list[str]
    ConsoleSize: Annotated[list[Uint], 2]
    Annotations: dict[str, str]
    CapAdd: StrSlice
    CapDrop: StrSlice
    CgroupnsMode: Annotated[str, named("container.CgroupnsMode")]
    Dns: list[str]
    DnsOptions: list[str]
    DnsSearch: list[str]
    ExtraHosts: list[str]
    GroupAdd: list[str]
    IpcMode: Annotated[str, named("container.IpcMode")]
    Cgroup: Annotated[str, named("container.CgroupSpec")]
    Links: list[str]
    OomScoreAdj: Int
    PidMode: Annotated[str, named("container.PidMode")]
    Privileged: bool
    PublishAllPorts: bool
    ReadonlyRootfs: bool
    SecurityOpt: list[str]
    StorageOpt: dict[str, str]
    Tmpfs: dict[str, str]
    UTSMode: Annotated[str, named("container.UTSMode")]
    UsernsMode: Annotated[str, named("container.UsernsMode")]
    ShmSize: Int64
    Sysctls: dict[str, str]
    Runtime: str
    Isolation: Annotated[str, named("container.Isolation")]
    Capabilities: list[str]
    Mounts: list[Mount]
    MaskedPaths: list[str]
    ReadonlyPaths: list[str]
    Init: Ptr[bool]


class ContainerCreate(Config):
    """The create body: a Config with the HostConfig and NetworkingConfig beside its fields."""

    __go__ = "runconfig.ContainerConfigWrapper"
    HostConfig: Ptr[HostConfig]
    NetworkingConfig: Ptr[NetworkingConfig]


def create_config(raw: bytes, legacy: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """The create body decoded, refused as dockerd's decoder refuses it: an empty body
    ("EOF") and a body without any Config field (no Image, Cmd...). `legacy` first
    turns an older body into the newest shape (api/versions), as in `model_body`."""
    if not raw.strip():
        raise InvalidParameter("EOF")
    value = parse_literal(raw)
    if legacy is not None and value is not None:
        value = legacy(value)
    body = {} if value is None else decode_value(value, ContainerCreate)
    if not _CONFIG_FIELDS.intersection(body):
        raise InvalidParameter("Config cannot be empty in order to create a container")
    return body  # type: ignore[no-any-return]


class ContainerCommit(ContainerCreate):
    """`POST /commit` reads its body as dockerd does: the create body's wrapper, of which
    the Config is used."""


class UpdateConfig(Resources):
    __go__ = "container.UpdateConfig"
    RestartPolicy: RestartPolicy


_CONFIG_FIELDS = frozenset(typing.get_type_hints(Config)) - {"__go__"}
