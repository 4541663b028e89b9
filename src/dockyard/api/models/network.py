"""Request models of the network endpoints (Engine API 1.45 types): network
create with its IPAM configuration, connect, disconnect, and the endpoint
settings a container create carries too."""

from __future__ import annotations

from dockyard.api.models.gojson import Int, Model, Ptr


class EndpointIPAMConfig(Model):
    __go__ = "network.EndpointIPAMConfig"
    IPv4Address: str
    IPv6Address: str
    LinkLocalIPs: list[str]


class EndpointSettings(Model):
    __go__ = "network.EndpointSettings"
    IPAMConfig: Ptr[EndpointIPAMConfig]
    Links: list[str]
    Aliases: list[str]
    MacAddress: str
    DriverOpts: dict[str, str]
    NetworkID: str
    EndpointID: str
    Gateway: str
    IPAddress: str
    IPPrefixLen: Int
    IPv6Gateway: str
    GlobalIPv6Address: str
    GlobalIPv6PrefixLen: Int
    DNSNames: list[str]
    GwPriority: Int  # API 1.48; the CLI sends it with --network gw-priority=N


class NetworkingConfig(Model):
    __go__ = "network.NetworkingConfig"
    EndpointsConfig: dict[str, Ptr[EndpointSettings]]


class IPAMConfig(Model):
    __go__ = "network.IPAMConfig"
    Subnet: str
    IPRange: str
    Gateway: str
    AuxiliaryAddresses: dict[str, str]


class IPAM(Model):
    __go__ = "network.IPAM"
    Driver: str
    Options: dict[str, str]
    Config: list[IPAMConfig]


class ConfigReference(Model):
    __go__ = "network.ConfigReference"
    Network: str


class NetworkCreateRequest(Model):
    __go__ = "types.NetworkCreateRequest"
    Name: str
    CheckDuplicate: bool
    Driver: str
    Scope: str
    EnableIPv6: bool
    IPAM: Ptr[IPAM]
    Internal: bool
    Attachable: bool
    Ingress: bool
    ConfigOnly: bool
    ConfigFrom: Ptr[ConfigReference]
    Options: dict[str, str]
    Labels: dict[str, str]


class NetworkConnect(Model):
    __go__ = "types.NetworkConnect"
    Container: str
    EndpointConfig: Ptr[EndpointSettings]


class NetworkDisconnect(Model):
    __go__ = "types.NetworkDisconnect"
    Container: str
    Force: bool
