"""Registry server auth: htpasswd (bcrypt) Basic auth, and the Docker token
protocol (`WWW-Authenticate: Bearer realm=,service=,scope=`, a token endpoint
issuing signed JWTs, per-repository rights from an access file).

bcrypt (the `bcrypt` package, as htpasswd -B writes) is slow on purpose
(~0.1 s per check at cost 10), so a verified (user, password) pair is
remembered by its sha256 for the process lifetime; a changed htpasswd file
is re-read when its mtime changes. Tokens are HS256 JWTs via PyJWT, signed
with a secret this registry issues and checks itself (clients never verify
registry tokens; distribution's RS256 certificate chain buys nothing here).

Access file (YAML), first matching rules add up:

    - {account: alice, name: "alice/*", actions: [pull, push, delete]}
    - {account: "*",   name: "*",       actions: [pull]}     # any logged-in user
    - {account: "",    name: "public/*", actions: [pull]}    # anonymous
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import bcrypt
import jwt
from aiohttp import web

from dockyard.registry.proto import RegistryError
from dockyard.registry.server.app import AuthChallenge


class Htpasswd:
    def __init__(self, path: str) -> None:
        self.path = path
        self._mtime = -1.0
        self._users: dict[str, bytes] = {}
        self._ok: set[str] = set()

    def _load(self) -> None:
        try:
            mtime = os.stat(self.path).st_mtime
        except FileNotFoundError:
            self._users, self._mtime = {}, -1.0
            return
        if mtime == self._mtime:
            return
        users = {}
        with open(self.path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and ":" in line:
                    u, h = line.split(":", 1)
                    users[u] = h.encode()
        self._users, self._mtime, self._ok = users, mtime, set()

    def check(self, user: str, password: str) -> bool:
        self._load()
        h = self._users.get(user)
        if h is None:
            return False
        key = hashlib.sha256(b"%s\0%s\0%s" % (user.encode(), password.encode(), h)).hexdigest()
        if key in self._ok:
            return True
        try:
            ok = bcrypt.checkpw(password.encode(), h.replace(b"$2y$", b"$2b$", 1))
        except ValueError:
            return False
        if ok:
            self._ok.add(key)
        return ok


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    h = request.headers.get("Authorization", "")
    if not h.lower().startswith("basic "):
        return None
    try:
        user, _, pw = base64.b64decode(h[6:].strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, pw


class HtpasswdAuthorizer:
    def __init__(self, path: str, realm: str) -> None:
        self.htpasswd = Htpasswd(path)
        self.realm = realm

    async def authorize(self, request: web.Request, repo: str, actions: list[str]) -> None:
        creds = basic_credentials(request)
        if creds is None or not self.htpasswd.check(*creds):
            raise AuthChallenge(f'Basic realm="{self.realm}"')

    def extra_routes(self) -> list[web.RouteDef]:
        return []


@dataclass
class Rule:
    account: str
    name: str
    actions: list[str]


@dataclass
class TokenAuthorizer:
    realm: str
    service: str
    issuer: str
    secret: bytes
    rules: list[Rule]
    htpasswd: Htpasswd | None
    ttl: int = 300
    path: str = "/auth/token"
    _cache: dict[str, Any] = field(default_factory=dict)

    def granted(self, account: str, repo: str, wanted: list[str]) -> list[str]:
        have: set[str] = set()
        for r in self.rules:
            if r.account == account or (r.account == "*" and account):
                if fnmatch.fnmatchcase(repo, r.name):
                    have.update(r.actions)
        if "*" in have:
            return list(wanted)
        return [a for a in wanted if a in have]

    async def authorize(self, request: web.Request, repo: str, actions: list[str]) -> None:
        scope = f"repository:{repo}:{','.join(actions)}" if repo and actions else ""
        if repo == "" and actions == ["*"]:
            scope = "registry:catalog:*"
        challenge = f'Bearer realm="{self.realm}",service="{self.service}"'
        if scope:
            challenge += f',scope="{scope}"'
        h = request.headers.get("Authorization", "")
        if not h.lower().startswith("bearer "):
            raise AuthChallenge(challenge)
        try:
            claims = jwt.decode(
                h[7:].strip(),
                self.secret,
                algorithms=["HS256"],
                audience=self.service,
                issuer=self.issuer,
            )
        except jwt.PyJWTError:
            raise AuthChallenge(challenge + ',error="invalid_token"') from None
        if not actions:
            return
        kind, name = ("registry", "catalog") if not repo else ("repository", repo)
        for a in actions:
            if not any(
                e.get("type") == kind and e.get("name") == name and a in (e.get("actions") or [])
                for e in claims.get("access") or []
            ):
                sub = claims.get("sub") or ""
                if sub and repo and not self.granted(sub, repo, [a]):
                    # logged in and no token could allow it: Docker Hub's 403, not a challenge
                    raise RegistryError("DENIED", detail={"name": repo, "action": a})
                raise AuthChallenge(challenge + ',error="insufficient_scope"')

    async def token(self, request: web.Request) -> web.Response:
        account = ""
        creds = basic_credentials(request)
        if creds is not None:
            if self.htpasswd is None or not self.htpasswd.check(*creds):
                err = RegistryError("UNAUTHORIZED", "invalid username or password")
                return web.Response(status=401, body=err.body(), content_type="application/json")
            account = creds[0]
        access = []
        for scope in request.query.getall("scope", []):
            for one in scope.split(" "):
                parts = one.split(":")
                if len(parts) < 3:
                    continue
                kind, actions = parts[0], parts[-1].split(",")
                name = ":".join(parts[1:-1])
                if kind == "repository":
                    got = self.granted(account, name, actions)
                elif kind == "registry" and name == "catalog":
                    got = ["*"] if self.granted(account, "*", ["*"]) else []
                else:
                    got = []
                access.append({"type": kind, "name": name, "actions": got})
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": account,
            "aud": request.query.get("service", self.service),
            "exp": now + self.ttl,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        token = jwt.encode(claims, self.secret, algorithm="HS256")
        return web.json_response(
            {
                "token": token,
                "access_token": token,
                "expires_in": self.ttl,
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            }
        )

    def extra_routes(self) -> list[web.RouteDef]:
        return [web.get(self.path, self.token)]


def from_config(c: Any) -> Any:
    if c.token:
        t = c.token
        import yaml

        rules = []
        if t.get("access"):
            with open(t["access"]) as f:
                for r in yaml.safe_load(f) or []:
                    rules.append(
                        Rule(str(r.get("account", "")), str(r["name"]), list(r["actions"]))
                    )
        if t.get("anonymous_pull"):
            rules.append(Rule("", "*", ["pull"]))
        if t.get("key") and os.path.exists(t["key"]):
            with open(t["key"], "rb") as f:
                secret = f.read().strip()
        else:
            secret = secrets.token_bytes(32)
        realm = t.get("realm") or f"http://{c.addr}/auth/token"
        from urllib.parse import urlparse

        return TokenAuthorizer(
            realm=realm,
            service=t.get("service", "dockyard-registry"),
            issuer=t.get("issuer", "dockyard-registry"),
            secret=secret,
            rules=rules,
            htpasswd=Htpasswd(t["htpasswd"]) if t.get("htpasswd") else None,
            path=urlparse(realm).path or "/auth/token",
        )
    return HtpasswdAuthorizer(c.htpasswd, c.realm)
