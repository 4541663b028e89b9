"""Registry credentials as the Engine API carries them (pure).

`X-Registry-Auth` is base64url(JSON {username, password, serveraddress,
identitytoken, registrytoken}); `POST /auth` sends the same JSON as a body.
Hosts are normalised the way docker does (`https://index.docker.io/v1/` is
docker.io; scheme and path dropped otherwise).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from dockyard.api.errors import InvalidParameter
from dockyard.api.models import gojson


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""
    registry_token: str = ""
    server: str = ""

    @property
    def empty(self) -> bool:
        return not (self.username or self.identity_token or self.registry_token)


def from_json(doc: dict[str, object]) -> Credentials:
    def s(*keys: str) -> str:
        for k in keys:
            v = doc.get(k)
            if isinstance(v, str) and v:
                return v
        return ""

    return Credentials(
        s("username", "Username"),
        s("password", "Password"),
        s("identitytoken", "IdentityToken"),
        s("registrytoken", "RegistryToken"),
        s("serveraddress", "ServerAddress"),
    )


def decode_header(value: str | None) -> Credentials:
    if not value:
        return Credentials()
    pad = "=" * (-len(value) % 4)
    try:
        doc = gojson.parse(base64.urlsafe_b64decode(value + pad))
    except (binascii.Error, ValueError, InvalidParameter):
        try:
            doc = gojson.parse(base64.b64decode(value + pad))
        except (binascii.Error, ValueError, InvalidParameter):
            raise InvalidParameter("invalid X-Registry-Auth header") from None
    if not isinstance(doc, dict):
        return Credentials()
    return from_json(doc)
