"""Detach keys on the daemon's attach input path (API clients). As dockerd, they are
scanned only with a TTY: without one stdin is binary data (tests/integration/fidelity)."""

from __future__ import annotations

import socket
import time
import uuid

import docker
import pytest

from tests.conftest import Daemon

pytestmark = pytest.mark.integration


def _read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


@pytest.mark.parametrize("keys", [None, "ctrl-a,b"])
def test_detach_keys_end_the_attach_not_the_container(daemon: Daemon, keys: str | None) -> None:
    client = docker.DockerClient(base_url=daemon.host)
    c = client.containers.run(
        "busybox", "cat", stdin_open=True, tty=True, detach=True, network_mode="none",
        name=f"det-{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    try:
        params = {"stdin": 1, "stdout": 1, "stream": 1}
        if keys:
            params["detachKeys"] = keys
        raw = client.api.attach_socket(c.id, params=params)
        sock = raw._sock  # the hijacked socket
        sock.sendall(b"echo-me\n")
        time.sleep(0.3)
        seq = b"\x01b" if keys else b"\x10\x11"
        sock.sendall(b"typed" + seq + b"never-sent\n")
        out = _read_until_closed(sock, 10)  # the daemon ends the stream
        sock.close()
        assert b"echo-me" in out
        assert b"never-sent" not in out
        c.reload()
        assert c.status == "running"  # stdin stays open after a detach
        # what was typed before the keys reached cat; what followed did not
        logs = c.logs().replace(b"\r\n", b"\n")  # the TTY echoes, then cat writes
        assert logs.startswith(b"echo-me\n")
        raw = client.api.attach_socket(c.id, params={"stdin": 1, "stdout": 1, "stream": 1})
        raw._sock.sendall(b"\nagain\n")
        time.sleep(0.5)
        raw._sock.close()
        assert b"typedagain" not in c.logs() and b"again" in c.logs()
    finally:
        c.remove(force=True)
        client.close()


def test_console_size_at_create_is_the_first_size(daemon: Daemon) -> None:
    client = docker.DockerClient(base_url=daemon.host)
    try:
        cid = client.api.create_container(
            "busybox", ["stty", "size"], tty=True,
            host_config={"NetworkMode": "none", "ConsoleSize": [33, 77]},
        )["Id"]  # fmt: skip
        try:
            client.api.start(cid)  # nobody attached: no resize comes
            assert client.api.wait(cid, timeout=30)["StatusCode"] == 0
            assert client.api.logs(cid) == b"33 77\r\n"
        finally:
            client.api.remove_container(cid, force=True)
    finally:
        client.close()
