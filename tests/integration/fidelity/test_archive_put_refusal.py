"""PUT /containers/{id}/archive refuses a target it cannot extract to before it
reads the upload, as dockerd does: a missing path, a path under a `:ro` volume
or in a read-only rootfs. The client announces a body far larger than it sends
and waits (with a deadline) for the answer; an engine that reads the body first
never answers. Status and message are compared on dockyardd and the peer dockerd."""

from __future__ import annotations

import json
import socket
import time
import uuid

import pytest

from tests.conftest import Daemon

_ANNOUNCED = 1 << 30  # 1 GiB announced; a few KiB sent
_DEADLINE = 30.0


def _put_without_body(sock: str, cid: str, path: str) -> tuple[int, dict[str, str]]:
    """The status and JSON of the answer to a PUT whose body is never finished."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(_DEADLINE)
    try:
        s.connect(sock)
        head = (
            f"PUT /containers/{cid}/archive?path={path} HTTP/1.1\r\n"
            "Host: docker\r\nContent-Type: application/x-tar\r\n"
            f"Content-Length: {_ANNOUNCED}\r\n\r\n"
        )
        s.sendall(head.encode() + b"\0" * 8192)
        data = b""
        deadline = time.monotonic() + _DEADLINE
        while b"\r\n\r\n" not in data or not _complete(data):
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer before the body was sent: {data!r}")
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                raise AssertionError(f"no answer before the body was sent: {data!r}") from None
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head_b, _, body = data.partition(b"\r\n\r\n")
    status = int(head_b.split(b" ", 2)[1])
    return status, json.loads(_dechunk(head_b, body))


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        return body.endswith(b"0\r\n\r\n")
    for line in lower.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def _dechunk(head: bytes, body: bytes) -> bytes:
    if b"transfer-encoding: chunked" not in head.lower():
        return body
    out = b""
    while body:
        size_s, _, rest = body.partition(b"\r\n")
        size = int(size_s, 16)
        if size == 0:
            break
        out, body = out + rest[:size], rest[size + 2 :]
    return out


@pytest.mark.parametrize(
    ("create_args", "path", "status", "message"),
    [
        ([], "/no/such/dir", 404, "Could not find the file /no/such/dir in container {name}"),
        (["-v", "{vol}:/ro:ro"], "/ro", 500, "mounted volume is marked read-only"),
        (["--read-only"], "/tmp", 500, "container rootfs is marked read-only"),
        ([], "/bin/sh", 500, "extraction point is not a directory"),
        # dockerd looks for the path before it asks whether it may write there
        (
            ["--read-only"],
            "/no/such/dir",
            404,
            "Could not find the file /no/such/dir in container {name}",
        ),
    ],
    ids=["missing-path", "ro-volume", "ro-rootfs", "not-a-dir", "missing-in-ro-rootfs"],
)
def test_put_archive_refused_before_the_body(
    engine: Daemon, create_args: list[str], path: str, status: int, message: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    name, vol = f"fid-cpput-{tag}", f"fid-cpput-{tag}-v"
    args = [a.format(vol=vol) for a in create_args]
    engine.docker("create", "--name", name, "--network", "none", *args, "busybox", "true",
                  check=True)  # fmt: skip
    try:
        got = _put_without_body(engine.sock, name, path)
        assert got == (status, {"message": message.format(name=name)})
    finally:
        engine.docker("rm", "-f", name)
        if create_args:
            engine.docker("volume", "rm", vol)
