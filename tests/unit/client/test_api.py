"""Client: host selection, version negotiation, errors and the attach hijack,
against a small scripted server on a Unix socket."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockyard.client.api import DEFAULT_HOST, Client, error_message, parse_host, resolve_host
from dockyard.client.errors import APIError, ClientError, DaemonUnreachable
from dockyard.proto.stdcopy import STDOUT, encode


def test_resolve_host_order() -> None:
    assert resolve_host("unix:///a.sock", {"DOCKYARD_HOST": "unix:///b.sock"}) == "unix:///a.sock"
    assert resolve_host(None, {"DOCKYARD_HOST": "unix:///b.sock"}) == "unix:///b.sock"
    assert resolve_host(None, {"DOCKER_HOST": "unix:///c.sock"}) == DEFAULT_HOST


def test_parse_host() -> None:
    assert parse_host("unix:///run/x.sock") == (socket.AF_UNIX, "/run/x.sock")
    assert parse_host("tcp://127.0.0.1:2375") == (socket.AF_INET, ("127.0.0.1", 2375))
    with pytest.raises(ClientError):
        parse_host("ssh://host")


def test_error_message() -> None:
    assert error_message(b'{"message":"No such container: x"}', "Not Found") == (
        "No such container: x"
    )
    assert error_message(b"plain text\n", "Bad") == "plain text"
    assert error_message(b"", "Not Found") == "Not Found"


Handler = Callable[[bytes, socket.socket], None]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, list[bytes], list[Handler]]]:
    """A Unix-socket server answering each connection with the next handler."""
    path = str(tmp_path / "d.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(8)
    requests: list[bytes] = []
    handlers: list[Handler] = []

    def loop() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            requests.append(data)
            handlers.pop(0)(data, conn)
            conn.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield f"unix://{path}", requests, handlers
    listener.close()


def _reply(status: str, body: bytes, headers: str = "") -> Handler:
    def handler(_: bytes, conn: socket.socket) -> None:
        conn.sendall(
            f"HTTP/1.1 {status}\r\n{headers}Content-Length: {len(body)}\r\n\r\n".encode() + body
        )

    return handler


def test_negotiates_down_to_the_daemons_version(server) -> None:
    host, requests, handlers = server
    handlers += [_reply("200 OK", b"OK", "API-Version: 1.41\r\n"), _reply("200 OK", b"[]")]
    client = Client(host)
    assert client.get("/containers/json", {"all": True}) == []
    assert requests[0].startswith(b"GET /_ping HTTP/1.1")
    assert requests[1].startswith(b"GET /v1.41/containers/json?all=1 HTTP/1.1")


def test_keeps_its_own_version_for_newer_daemons(server) -> None:
    host, requests, handlers = server
    handlers += [_reply("200 OK", b"OK", "Api-Version: 1.47\r\n"), _reply("204 No Content", b"")]
    Client(host).post("/containers/x/start")
    assert requests[1].startswith(b"POST /v1.45/containers/x/start HTTP/1.1")


def test_api_error_carries_status_and_message(server) -> None:
    host, _, handlers = server
    handlers.append(_reply("404 Not Found", b'{"message":"No such container: nosuch"}'))
    with pytest.raises(APIError) as e:
        Client(host, version="1.45").get("/containers/nosuch/json")
    assert e.value.status == 404
    assert str(e.value) == "Error response from daemon: No such container: nosuch"


def test_unreachable_daemon(tmp_path: Path) -> None:
    with pytest.raises(DaemonUnreachable) as e:
        Client(f"unix://{tmp_path}/none.sock", version="1.45").get("/info")
    assert "Is the dockyard daemon running?" in str(e.value)


def test_hijack_upgrades_and_half_closes(server) -> None:
    host, requests, handlers = server
    got_stdin: list[bytes] = []

    def attach(_: bytes, conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
            b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + encode(STDOUT, b"hello\n")
        )
        data = b""
        while chunk := conn.recv(65536):  # until the client half-closes
            data += chunk
        got_stdin.append(data)
        conn.sendall(encode(STDOUT, b"bye\n"))

    handlers.append(attach)
    stream = Client(host, version="1.45").hijack(
        "/containers/x/attach", {"stream": True, "stdin": True, "stdout": True}
    )
    stream.send(b"input")
    stream.close_write()
    received = b""
    while chunk := stream.recv():
        received += chunk
    stream.close()
    assert received == encode(STDOUT, b"hello\n") + encode(STDOUT, b"bye\n")
    assert got_stdin == [b"input"]
    assert b"Upgrade: tcp" in requests[0] and b"Connection: Upgrade" in requests[0]
    assert requests[0].startswith(b"POST /v1.45/containers/x/attach?stream=1&stdin=1&stdout=1 ")


def test_json_stream(server) -> None:
    host, _, handlers = server

    def progress(_: bytes, conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'f\r\n{"status":"a"}\n\r\n'
            b'16\r\n{"status":"sha256:1"}\n\r\n0\r\n\r\n'
        )

    handlers.append(progress)
    client = Client(host, version="1.45")
    resp = client.request("POST", "/images/create", {"fromSrc": "-"}, b"tar")
    assert list(client.json_stream(resp)) == [{"status": "a"}, {"status": "sha256:1"}]


def test_concurrent_first_requests_all_use_the_negotiated_version(server) -> None:
    """A second thread asking while the first ping is in flight must not get our own
    (too new) version: compose's first requests go out from several threads at once."""
    import time

    host, requests, handlers = server
    release = threading.Event()
    answer = _reply("200 OK", b"OK", "API-Version: 1.41\r\n")

    def slow_ping(data: bytes, conn: socket.socket) -> None:
        release.wait(30)
        answer(data, conn)

    handlers += [slow_ping, answer]
    client = Client(host)
    got: dict[str, str] = {}
    first = threading.Thread(target=lambda: got.setdefault("first", client.version))
    first.start()
    deadline = time.monotonic() + 10
    while not requests:  # the first ping is at the server, held there
        assert time.monotonic() < deadline
        time.sleep(0.01)
    second = threading.Thread(target=lambda: got.setdefault("second", client.version))
    second.start()
    second.join(0.5)
    release.set()
    first.join(10)
    second.join(10)
    assert got == {"first": "1.41", "second": "1.41"}
