"""A minimal HTTP/1.1 client for the Engine API: one request per connection.

Why not `http.client`: importing it costs ~50 ms on the reference machine (it
pulls in `email.parser` and `ssl`), more than the CLI's whole start-up budget.
The Engine API needs a small subset: Content-Length or chunked bodies both
ways, and the `101 UPGRADED` hijack of attach, after which the socket is raw.
Request building and head parsing are pure functions; `Reader` is the only
code that touches the socket for reading.
"""

from __future__ import annotations

import socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import BinaryIO

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_CHUNK = 65536


class ProtocolError(Exception):
    """The peer broke HTTP/1.1 framing (or hung up mid-message)."""


def quote(text: str, safe: str = "") -> str:
    """Percent-encode like Go's url.QueryEscape/PathEscape would for our inputs."""
    keep = _UNRESERVED | frozenset(safe.encode())
    out = []
    for byte in text.encode():
        out.append(chr(byte) if byte in keep else f"%{byte:02X}")
    return "".join(out)


def encode_query(params: dict[str, object] | None) -> str:
    """`{"all": True, "changes": ["a", "b"], "x": None}` -> `all=1&changes=a&changes=b`."""
    if not params:
        return ""
    parts = []
    for key, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is True:
                item = "1"
            elif item is False:
                item = "0"
            parts.append(f"{quote(key)}={quote(str(item))}")
    return "&".join(parts)


def build_request_head(
    method: str, target: str, host: str, headers: dict[str, str], body_length: int | None
) -> bytes:
    """The request line and headers; `body_length=None` means a chunked body."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "User-Agent: Dockyard-Client"]
    for name, value in headers.items():
        lines.append(f"{name}: {value}")
    if body_length is None:
        lines.append("Transfer-Encoding: chunked")
    elif body_length or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {body_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_status_line(line: bytes) -> tuple[int, str]:
    try:
        version, status, *reason = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if not version.startswith("HTTP/"):
            raise ValueError(version)
        return int(status), (reason[0] if reason else "")
    except ValueError as e:
        raise ProtocolError(f"malformed status line: {line!r}") from e


def parse_header_line(line: bytes) -> tuple[str, str]:
    name, sep, value = line.decode("latin-1").partition(":")
    if not sep:
        raise ProtocolError(f"malformed header line: {line!r}")
    return name.strip().lower(), value.strip()


class Reader:
    """Buffered reads from a socket; what is buffered past the head stays available."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = bytearray()

    def _fill(self) -> bool:
        data = self.sock.recv(_CHUNK)
        if not data:
            return False
        self._buf += data
        return True

    def readline(self) -> bytes:
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[: end + 1])
                del self._buf[: end + 1]
                return line
            if not self._fill():
                raise ProtocolError("connection closed in the middle of a line")

    def read_exact(self, size: int) -> bytes:
        while len(self._buf) < size:
            if not self._fill():
                raise ProtocolError("connection closed in the middle of a body")
        data = bytes(self._buf[:size])
        del self._buf[:size]
        return data

    def read_some(self, limit: int = _CHUNK) -> bytes:
        """Whatever is buffered, else one recv; b"" at end of stream."""
        if not self._buf:
            return self.sock.recv(limit)
        data = bytes(self._buf[:limit])
        del self._buf[:limit]
        return data


class Response:
    """Status, lower-cased headers, and the body as an iterator of chunks."""

    def __init__(self, sock: socket.socket, reader: Reader, method: str) -> None:
        self.sock = sock
        self.reader = reader
        self.status, self.reason = parse_status_line(reader.readline())
        self.headers: dict[str, str] = {}
        while True:
            line = reader.readline()
            if line in (b"\r\n", b"\n"):
                break
            name, value = parse_header_line(line)
            self.headers[name] = f"{self.headers[name]}, {value}" if name in self.headers else value
        self._no_body = method == "HEAD" or self.status in (204, 304) or 100 <= self.status < 200

    def iter_body(self) -> Iterator[bytes]:
        """The decoded body, chunk by chunk, as the daemon flushes it."""
        if self._no_body:
            return
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            while True:
                size_line = self.reader.readline()
                try:
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                except ValueError as e:
                    raise ProtocolError(f"malformed chunk size: {size_line!r}") from e
                if size == 0:
                    while self.reader.readline() not in (b"\r\n", b"\n"):
                        pass
                    return
                yield self.reader.read_exact(size)
                self.reader.read_exact(2)
        elif "content-length" in self.headers:
            remaining = int(self.headers["content-length"])
            while remaining > 0:
                data = self.reader.read_some(min(remaining, _CHUNK))
                if not data:
                    raise ProtocolError("connection closed in the middle of a body")
                remaining -= len(data)
                yield data
        else:
            while data := self.reader.read_some():
                yield data

    def read(self) -> bytes:
        return b"".join(self.iter_body())

    def close(self) -> None:
        self.sock.close()


def send_request(
    sock: socket.socket,
    method: str,
    target: str,
    host: str,
    headers: dict[str, str],
    body: bytes | BinaryIO | Iterable[bytes] | None,
) -> Response:
    """Write the request (streaming a file or iterable body chunked) and read the head."""
    if body is None or isinstance(body, bytes | bytearray):
        data = bytes(body or b"")
        sock.sendall(build_request_head(method, target, host, headers, len(data)) + data)
    else:
        sock.sendall(build_request_head(method, target, host, headers, None))
        chunks = iter(lambda: body.read(_CHUNK), b"") if hasattr(body, "read") else body
        try:
            for chunk in chunks:
                if chunk:
                    sock.sendall(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon answered early (an error); its response says why
    return Response(sock, Reader(sock), method)
