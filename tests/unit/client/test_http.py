"""The minimal HTTP/1.1 codec, driven over socketpairs."""

from __future__ import annotations

import io
import socket
import threading

import pytest

from dockyard.client.http import (
    ProtocolError,
    build_request_head,
    encode_query,
    quote,
    send_request,
)


def test_encode_query_bools_lists_and_none() -> None:
    assert encode_query({"all": True, "x": None, "changes": ['CMD ["sh"]', "ENV A=1"]}) == (
        "all=1&changes=CMD%20%5B%22sh%22%5D&changes=ENV%20A%3D1"
    )
    assert encode_query({"force": False}) == "force=0"
    assert encode_query(None) == ""


def test_quote_keeps_safe_characters() -> None:
    assert quote("library/busybox:latest", safe="/:@") == "library/busybox:latest"
    assert quote("a b/c") == "a%20b%2Fc"


def test_request_head() -> None:
    head = build_request_head("POST", "/v1.45/containers/x/start", "api", {}, 0)
    assert head == (
        b"POST /v1.45/containers/x/start HTTP/1.1\r\nHost: api\r\n"
        b"User-Agent: Dockyard-Client\r\nContent-Length: 0\r\n\r\n"
    )
    assert b"Transfer-Encoding: chunked" in build_request_head("POST", "/", "api", {}, None)
    assert b"Content-Length" not in build_request_head("GET", "/", "api", {}, 0)


def _serve(reply: bytes) -> tuple[socket.socket, threading.Thread, list[bytes]]:
    ours, theirs = socket.socketpair()
    received: list[bytes] = []

    def server() -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += theirs.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        if b"chunked" in head:
            while not rest.endswith(b"0\r\n\r\n"):
                rest += theirs.recv(65536)
        received.append(head + b"\r\n\r\n" + rest)
        theirs.sendall(reply)
        theirs.close()

    thread = threading.Thread(target=server)
    thread.start()
    return ours, thread, received


def test_content_length_response() -> None:
    sock, thread, _ = _serve(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )
    resp = send_request(sock, "GET", "/x", "api", {}, None)
    assert (resp.status, resp.reason) == (200, "OK")
    assert resp.headers["content-type"] == "application/json"
    assert resp.read() == b"{}"
    thread.join()


def test_chunked_response_arrives_chunk_by_chunk() -> None:
    sock, thread, _ = _serve(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n5;ext=1\r\nde\r\nf\r\n0\r\n\r\n"
    )
    resp = send_request(sock, "GET", "/x", "api", {}, None)
    assert list(resp.iter_body()) == [b"abc", b"de\r\nf"]
    thread.join()


def test_body_until_close_and_no_body_for_204() -> None:
    sock, thread, _ = _serve(b"HTTP/1.0 200 OK\r\n\r\nraw stream")
    assert send_request(sock, "GET", "/x", "api", {}, None).read() == b"raw stream"
    thread.join()
    sock, thread, _ = _serve(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert send_request(sock, "POST", "/x", "api", {}, b"").read() == b""
    thread.join()


def test_file_body_is_sent_chunked() -> None:
    sock, thread, received = _serve(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    send_request(sock, "POST", "/images/create", "api", {}, io.BytesIO(b"tar bytes")).read()
    thread.join()
    assert received[0].endswith(b"\r\n\r\n9\r\ntar bytes\r\n0\r\n\r\n")


def test_malformed_status_line() -> None:
    sock, thread, _ = _serve(b"garbage\r\n\r\n")
    with pytest.raises(ProtocolError):
        send_request(sock, "GET", "/x", "api", {}, None)
    thread.join()


def test_truncated_body_is_an_error() -> None:
    sock, thread, _ = _serve(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    resp = send_request(sock, "GET", "/x", "api", {}, None)
    with pytest.raises(ProtocolError):
        resp.read()
    thread.join()
