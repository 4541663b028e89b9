"""HTTP to one registry host: scheme choice, the auth challenge dance, error
mapping. aiohttp's client, because the daemon already runs on aiohttp's loop.

Scheme: HTTPS, verified against the system's CAs and those in Docker's
`certs.d` layout (`<dir>/<host:port>/*.crt`, client pairs `*.cert` + `*.key`;
see `tls_context`). Loopback hosts (localhost, 127.0.0.0/8, ::1) and
configured insecure registries are probed as dockerd does: HTTPS without
certificate checks if they speak TLS, else plain HTTP. Dockyard never
talks to Docker Hub (`docker.io`): it answers with an error instead, so that
tests and offline hosts fail fast and clearly.

Auth: a request answered 401 is retried once with what the challenge asks
for: Basic with the given credentials, or Bearer with a token fetched from
the challenge's realm (the Docker token protocol; GET with scope and service,
Basic credentials if any). Tokens are cached per scope until they expire.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
import ssl as ssllib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from dockyard.api.errors import DockyardError, Forbidden, NotFound, Unauthorized, Unavailable
from dockyard.registry import proto
from dockyard.registry.client.auth import Credentials

ALL_MANIFESTS = ", ".join(
    (proto.OCI_INDEX, proto.DOCKER_MANIFEST_LIST, proto.OCI_MANIFEST, proto.DOCKER_MANIFEST)
)


class Denied(Forbidden):
    """The registry's DENIED: a 403, or a 401 whose Bearer challenge says
    `error="insufficient_scope"` (as docker/distribution's client reads it)."""


class _NoBasicCredentials(Exception):
    """A Basic challenge and no credentials to answer it with."""


class RegistryRequestError(DockyardError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status if status in (400, 401, 403, 404, 409, 416, 429) else 500
        self.code = code


class NoBasicAuthCredentials(RegistryRequestError):
    """A Basic challenge we had no credentials for: worded as Go's url.Error (a pull's
    words); `bare` is dockerd's push's, which names no request."""

    bare = "no basic auth credentials"

    def __init__(self, method: str, url: str) -> None:
        super().__init__(500, "", f'{method.title()} "{url}": {self.bare}')


def is_loopback(host: str) -> bool:
    h = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    h = h.strip("[]")
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def check_host_allowed(host: str) -> None:
    if host == "docker.io":
        raise Unavailable(
            "Dockyard does not contact Docker Hub (docker.io): name a registry host, "
            "e.g. localhost:5000/library/busybox, or configure a registry mirror"
        )


def tls_context(host: str, cert_dirs: Sequence[str]) -> ssllib.SSLContext | bool:
    """TLS settings for a secure registry, as dockerd reads `certs.d`: in the first
    of `cert_dirs` that has a `<host>` directory, `*.crt` files are CAs trusted in
    addition to the system's, and `x.cert` with `x.key` a client certificate.
    True (the defaults) when no directory names the host."""
    for base in cert_dirs:
        d = os.path.join(base, host)
        if not os.path.isdir(d):
            continue
        ctx = ssllib.create_default_context()
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if name.endswith(".crt"):
                ctx.load_verify_locations(cafile=path)
            elif name.endswith(".cert"):
                key = path[: -len(".cert")] + ".key"
                if not os.path.exists(key):
                    raise Unavailable(
                        f"missing key {os.path.basename(key)} for client certificate {name}"
                    )
                ctx.load_cert_chain(path, key)
        return ctx
    return True


def _unreachable(base: str, host: str, exc: aiohttp.ClientError) -> str:
    """A request that reached no registry, in dockerd's words (most specific first:
    the certificate, then TLS, then the connection)."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f'Get "{base}/v2/": {_x509_message(exc.certificate_error)}'
    if isinstance(exc, aiohttp.ClientSSLError):
        return f'Get "{base}/v2/": tls: {exc}'
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror if exc.os_error else exc
        return f'Get "{base}/v2/": dial tcp {host}: connect: {reason}'
    return f"registry {host}: {exc}"


def _x509_message(exc: ssllib.SSLCertVerificationError | BaseException) -> str:
    """Go's wording for a certificate that does not verify (what dockerd prints)."""
    code = getattr(exc, "verify_code", None)
    if code in (18, 19, 20, 21):  # self-signed, self-signed in chain, unknown issuer
        return "x509: certificate signed by unknown authority"
    if code in (9, 10):
        return "x509: certificate has expired or is not yet valid"
    if code in (62, 64):  # host name, IP address mismatch
        return (
            f"x509: certificate is not valid for this host ({getattr(exc, 'verify_message', exc)})"
        )
    return f"x509: {getattr(exc, 'verify_message', None) or exc}"


@dataclass
class Scope:
    repo: str
    actions: tuple[str, ...]

    def __str__(self) -> str:
        return f"repository:{self.repo}:{','.join(self.actions)}"


# insecure hosts' scheme, as probed: (base URL, ssl flag, valid until); a minute
# spares each pull/push the extra TLS attempt without missing a registry's switch
_PROBED: dict[str, tuple[str, bool, float]] = {}
_PROBE_TTL = 60.0


@dataclass
class Transport:
    host: str
    creds: Credentials = field(default_factory=Credentials)
    insecure: frozenset[str] = frozenset()
    cert_dirs: Sequence[str] = ()
    session: aiohttp.ClientSession | None = None
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    _basic: bool = False

    def __post_init__(self) -> None:
        check_host_allowed(self.host)
        self.insecure_host = is_loopback(self.host) or self.host in self.insecure
        self.base = f"https://{self.host}"
        self.ssl: ssllib.SSLContext | bool = (
            True if self.insecure_host else tls_context(self.host, self.cert_dirs)
        )

    async def __aenter__(self) -> Transport:
        if self.session is None:
            self.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=120),
                connector=aiohttp.TCPConnector(limit=16),
                auto_decompress=False,
            )
        if self.insecure_host:
            known = _PROBED.get(self.host)
            if known is not None and known[2] > time.monotonic():
                self.base, self.ssl = known[0], known[1]
            else:
                await self._probe_scheme()
                _PROBED[self.host] = (self.base, self.ssl, time.monotonic() + _PROBE_TTL)
        return self

    async def _probe_scheme(self) -> None:
        """An insecure registry (loopback or configured): HTTPS without verification
        if it speaks TLS, plain HTTP otherwise; what dockerd does for them."""
        assert self.session is not None
        try:
            async with self.session.get(
                f"https://{self.host}/v2/", ssl=False, timeout=aiohttp.ClientTimeout(total=5)
            ) as r:
                await r.read()
            self.ssl = False
        except (aiohttp.ClientError, TimeoutError):
            self.base = f"http://{self.host}"

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    def _auth_header(self, scope: str) -> dict[str, str]:
        tok = self._tokens.get(scope)
        if tok and tok[1] > time.monotonic():
            return {"Authorization": f"Bearer {tok[0]}"}
        if self._basic and self.creds.username:
            raw = f"{self.creds.username}:{self.creds.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {}

    async def request(
        self,
        method: str,
        path: str,
        scope: Scope | None = None,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        ok: tuple[int, ...] = (200,),
        allow_404: bool = False,
    ) -> aiohttp.ClientResponse:
        """A request with auth; the caller reads and releases the response."""
        assert self.session is not None
        url = path if path.startswith("http") else self.base + path
        sc = str(scope) if scope else ""
        answered, throttled = False, 0
        replayable = data is None or isinstance(data, bytes)
        while True:
            h = dict(headers or {})
            h.update(self._auth_header(sc))
            try:
                resp = await self.session.request(
                    method, url, headers=h, data=data, allow_redirects=True, ssl=self.ssl
                )
            except aiohttp.ClientError as exc:
                _PROBED.pop(self.host, None)  # probe again next time
                raise Unavailable(_unreachable(self.base, self.host, exc)) from None
            if resp.status == 401 and not answered and replayable:
                answered = True
                challenge = resp.headers.get("WWW-Authenticate", "")
                await resp.read()
                resp.release()
                try:
                    await self._answer(challenge, sc)
                except _NoBasicCredentials:
                    # Go's url.Error, as dockerd words it; not a 401, which the
                    # docker CLI answers with an interactive Docker Hub login
                    raise NoBasicAuthCredentials(method, url) from None
                continue
            if resp.status == 429 and throttled < _THROTTLE_RETRIES and replayable:
                throttled += 1  # TOOMANYREQUESTS: wait as told (bounded), then again
                await resp.read()
                resp.release()
                await asyncio.sleep(_retry_after(resp.headers.get("Retry-After"), throttled))
                continue
            break
        if resp.status in ok or (allow_404 and resp.status == 404):
            return resp
        body = await resp.read()
        resp.release()
        code, msg = proto.parse_error_body(resp.status, body)
        raise _error(resp.status, code, msg, scope, resp.headers.get("WWW-Authenticate", ""))

    async def _answer(self, challenge: str, scope: str) -> None:
        scheme, params = proto.parse_www_authenticate(challenge)
        if scheme == "basic":
            if not self.creds.username:
                raise _NoBasicCredentials
            self._basic = True
            return
        if scheme != "bearer" or "realm" not in params:
            raise Unauthorized(f"unauthorized: unsupported challenge {challenge!r}")
        # ask for what this client needs and what the challenge named (they can differ:
        # a HEAD is challenged for pull, but the push that follows needs push too)
        scopes = [s for s in dict.fromkeys([scope, params.get("scope", "")]) if s]
        q: list[tuple[str, str]] = [("service", params.get("service", ""))]
        q += [("scope", s) for s in scopes]
        h = {}
        if self.creds.username:
            raw = f"{self.creds.username}:{self.creds.password}".encode()
            h["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        elif self.creds.registry_token:
            self._tokens[scope] = (self.creds.registry_token, time.monotonic() + 60)
            return
        realm = params["realm"]
        check_host_allowed(realm.split("://", 1)[-1].split("/", 1)[0])
        assert self.session is not None
        realm_host = realm.split("://", 1)[-1].split("/", 1)[0]
        ssl = (
            self.ssl
            if is_loopback(realm_host) or realm_host in self.insecure or realm_host == self.host
            else True
        )
        async with self.session.get(realm, params=q, headers=h, ssl=ssl) as r:
            body = await r.read()
            if r.status != 200:
                code, msg = proto.parse_error_body(r.status, body)
                raise Unauthorized(f"unauthorized: {msg or 'authentication required'}")
        import json

        doc = json.loads(body)
        token = doc.get("token") or doc.get("access_token")
        if not token:
            raise Unauthorized("unauthorized: token server returned no token")
        ttl = int(doc.get("expires_in") or 60)
        self._tokens[scope] = (token, time.monotonic() + max(10, ttl - 5))

    async def ping(self) -> None:
        resp = await self.request("GET", "/v2/", scope=None)
        resp.release()


_THROTTLE_RETRIES = 5


def _retry_after(value: str | None, attempt: int) -> float:
    try:
        wait = float(value) if value else 0.5 * 2**attempt
    except ValueError:
        wait = 0.5 * 2**attempt
    return min(max(wait, 0.1), 10.0)


def _error(
    status: int, code: str, msg: str, scope: Scope | None, challenge: str = ""
) -> DockyardError:
    repo = scope.repo if scope else ""
    if status == 401:
        scheme, params = proto.parse_www_authenticate(challenge)
        if scheme == "bearer" and params.get("error") == "insufficient_scope":
            text = params.get("error_description") or "requested access to the resource is denied"
            return Denied(f"denied: {text}")
        return Unauthorized(f"unauthorized: {msg or 'authentication required'}")
    if status == 429:
        return Unavailable(f"toomanyrequests: {msg or 'too many requests'}")
    if status == 403:
        return Denied(f"denied: {msg or 'requested access to the resource is denied'}")
    if status == 404:
        if code in ("MANIFEST_UNKNOWN", "NAME_UNKNOWN", ""):
            return NotFound(f"manifest unknown: {msg}" if repo else msg)
        return NotFound(msg)
    return RegistryRequestError(status, code, f"{code.lower() or 'error'}: {msg}" if code else msg)
