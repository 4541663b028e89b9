"""Raw Engine API requests over the daemon's Unix socket: exact bytes in, status and
body out (what a careless or hostile client sends, which the SDKs would refuse to)."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any


class _Conn(http.client.HTTPConnection):
    def __init__(self, sock_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.sock_path = sock_path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.sock_path)
        self.sock = s


def request(
    sock_path: str, method: str, path: str, body: bytes | str | Any = None, timeout: float = 60
) -> tuple[int, str, bytes]:
    """(status, content type, body). `body` as bytes/str is sent as is, anything else as JSON."""
    if body is not None and not isinstance(body, bytes | str):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    conn = _Conn(sock_path, timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type") or "", resp.read()
    finally:
        conn.close()


def error_message(status: int, ctype: str, body: bytes) -> str:
    """The `message` of a JSON error answer; fails if the answer is not one."""
    assert status >= 400, (status, body[:300])
    assert ctype.startswith("application/json"), (status, ctype, body[:300])
    doc = json.loads(body)
    assert isinstance(doc, dict) and isinstance(doc.get("message"), str), body[:300]
    return doc["message"]
