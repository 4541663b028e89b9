"""Request model of `POST /volumes/create` (Engine API 1.45; cluster volumes,
which need swarm mode, are not decoded)."""

from __future__ import annotations

from dockyard.api.models.gojson import Model


class VolumeCreateBody(Model):
    __go__ = "volume.VolumeCreateBody"
    Name: str
    Driver: str
    DriverOpts: dict[str, str]
    Labels: dict[str, str]
