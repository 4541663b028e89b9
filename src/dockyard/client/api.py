"""`Client`: the Engine API over a Unix socket or loopback TCP, one connection per request.

Version negotiation follows the docker CLI: `GET /_ping` once, then every path
is prefixed with `/v<min(ours, daemon's)>`. `DOCKYARD_API_VERSION` pins the
version and skips the ping. Errors come back as `APIError(status, message)`.
"""

from __future__ import annotations

import json
import os
import socket

from dockyard.api.version import API_VERSION, less_than
from dockyard.client.errors import APIError, ClientError, DaemonUnreachable
from dockyard.client.http import ProtocolError, Reader, Response, encode_query, send_request
from dockyard.client.streams import JSONStreamDecoder

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any, BinaryIO

    Body = bytes | BinaryIO | Iterable[bytes] | None

DEFAULT_HOST = "unix:///run/dockyard/dockyard.sock"


def resolve_host(flag: str | None, environ: dict[str, str] | os._Environ[str]) -> str:
    """`-H` wins, then `DOCKYARD_HOST`, then the default socket."""
    return flag or environ.get("DOCKYARD_HOST") or DEFAULT_HOST


def parse_host(host: str) -> tuple[int, Any]:
    """`unix:///path` -> (AF_UNIX, path); `tcp://h:p` -> (AF_INET, (h, p))."""
    if host.startswith("unix://"):
        path = host[len("unix://") :]
        if not path:
            raise ClientError(f"invalid host {host!r}: empty socket path")
        return socket.AF_UNIX, path
    if host.startswith("tcp://"):
        hostport = host[len("tcp://") :].rstrip("/")
        name, sep, port = hostport.rpartition(":")
        if not sep:
            name, port = hostport, "2375"
        try:
            return socket.AF_INET, (name.strip("[]") or "127.0.0.1", int(port))
        except ValueError:
            raise ClientError(f"invalid host {host!r}: bad port") from None
    raise ClientError(f"invalid host {host!r}: use unix:///path or tcp://host:port")


def error_message(body: bytes, reason: str) -> str:
    """The daemon's `{"message": ...}`, else its body text, else the status reason."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and isinstance(doc.get("message"), str):
            return doc["message"]
    except ValueError:
        pass
    return body.decode("utf-8", "replace").strip() or reason


class Hijacked:
    """The raw stream of an upgraded attach: recv/send bytes, half-close stdin."""

    def __init__(self, sock: socket.socket, reader: Reader) -> None:
        self.sock = sock
        self._reader = reader

    def recv(self) -> bytes:
        return self._reader.read_some()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()


class Client:
    def __init__(self, host: str = DEFAULT_HOST, version: str | None = None) -> None:
        self.host = host
        self._family, self._address = parse_host(host)
        self._version = version or os.environ.get("DOCKYARD_API_VERSION") or None
        self.server_version: str | None = None

    # -- transport ---------------------------------------------------------
    def _connect(self) -> socket.socket:
        sock = socket.socket(self._family, socket.SOCK_STREAM)
        try:
            sock.connect(self._address)
        except OSError:
            sock.close()
            raise DaemonUnreachable(self.host) from None
        return sock

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        body: Body,
        headers: dict[str, str] | None,
        versioned: bool = True,
    ) -> Response:
        target = f"/v{self.version}{path}" if versioned else path
        query = encode_query(params)
        if query:
            target += "?" + query
        sock = self._connect()
        try:
            return send_request(sock, method, target, "api", headers or {}, body)
        except (ProtocolError, OSError) as e:
            sock.close()
            if isinstance(e, ProtocolError):
                raise ClientError(f"error during connect: {e}") from None
            raise DaemonUnreachable(self.host) from None

    @property
    def version(self) -> str:
        """The API version in use; negotiated with the daemon on first use.

        Set only once the ping has answered: another thread asking meanwhile pings
        too, rather than using our own version against an older daemon."""
        if self._version is None:
            self.ping()
            if self._version is None:
                self._version = API_VERSION
        return self._version

    def ping(self) -> dict[str, str]:
        resp = self._send("GET", "/_ping", None, None, None, versioned=False)
        try:
            resp.read()
        finally:
            resp.close()
        server = resp.headers.get("api-version")
        if server:
            self.server_version = server
            if less_than(server, API_VERSION) and self._version in (None, API_VERSION):
                self._version = server
        return resp.headers

    # -- requests ------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Body = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Send a request; the caller reads the body (a stream) and closes the response."""
        resp = self._send(method, path, params, body, headers)
        if resp.status >= 400:
            try:
                message = error_message(resp.read(), resp.reason)
            except (ProtocolError, OSError):
                message = resp.reason
            finally:
                resp.close()
            raise APIError(resp.status, message)
        return resp

    def call(
        self, method: str, path: str, params: dict[str, Any] | None = None, json_body: Any = None
    ) -> Any:
        """A request with an optional JSON body; the decoded JSON answer (None if empty)."""
        body, headers = None, None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers = {"Content-Type": "application/json"}
        resp = self.request(method, path, params, body, headers)
        try:
            data = resp.read()
        finally:
            resp.close()
        return json.loads(data) if data.strip() else None

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.call("GET", path, params)

    def post(self, path: str, params: dict[str, Any] | None = None, json_body: Any = None) -> Any:
        return self.call("POST", path, params, json_body)

    def delete(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.call("DELETE", path, params)

    def json_stream(self, resp: Response) -> Iterator[Any]:
        """Decode a JSON-lines body (progress, events) as it arrives; closes at the end."""
        decoder = JSONStreamDecoder()
        try:
            for chunk in resp.iter_body():
                decoder.feed(chunk)
                yield from decoder
        finally:
            resp.close()

    def hijack(
        self, path: str, params: dict[str, Any] | None = None, json_body: Any = None
    ) -> Hijacked:
        """POST with `Upgrade: tcp`; after `101 UPGRADED` the socket carries the raw stream.
        `json_body`: a JSON request body (exec start's {"Detach", "Tty"})."""
        headers = {"Connection": "Upgrade", "Upgrade": "tcp", "Content-Type": "text/plain"}
        body = b""
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        resp = self.request("POST", path, params, body, headers)
        if resp.status not in (101, 200):
            resp.close()
            raise ClientError(f"unexpected response to attach: {resp.status} {resp.reason}")
        return Hijacked(resp.sock, resp.reader)
