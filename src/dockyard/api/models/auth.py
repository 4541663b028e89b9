"""Request model of `POST /auth` (types.AuthConfig: its JSON names are lower case)."""

from __future__ import annotations

from dockyard.api.models.gojson import Model


class AuthConfig(Model):
    __go__ = "types.AuthConfig"
    username: str
    password: str
    auth: str
    email: str
    serveraddress: str
    identitytoken: str
    registrytoken: str
