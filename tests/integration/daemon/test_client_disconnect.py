"""A client that goes away mid-request is not a daemon error (issue 12): the CLI
waiting on `POST /containers/{id}/wait` (or following logs, or attached) and
killed before the container exits left an ERROR with a traceback in the log each
time. The daemon log stays free of them."""

from __future__ import annotations

import socket
import time
import uuid

from tests.conftest import Daemon


def _hang_up_on(daemon: Daemon, request: bytes) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(daemon.sock)
    s.sendall(request)
    s.settimeout(10)
    s.recv(1)  # the answer's headers have started (a streamed answer) ...
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()  # ... and the client resets the connection


def test_clients_that_hang_up_leave_no_traceback(daemon: Daemon) -> None:
    name = f"disc-{uuid.uuid4().hex[:8]}"
    daemon.docker("run", "-d", "--name", name, "--network", "none", "busybox", "sh", "-c",
                  "while true; do echo tick; sleep 0.05; done", check=True)  # fmt: skip
    before = daemon.log_path.read_text(errors="replace")
    try:
        for path in (f"/containers/{name}/logs?follow=1&stdout=1",
                     f"/containers/{name}/attach?stream=1&stdout=1",
                     "/events", f"/containers/{name}/stats"):  # fmt: skip
            method = "POST" if "attach" in path else "GET"
            _hang_up_on(daemon, f"{method} {path} HTTP/1.1\r\nHost: d\r\n\r\n".encode())
        # the wait answers only when the container exits: hang up, then stop it
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(daemon.sock)
        s.sendall(f"POST /containers/{name}/wait HTTP/1.1\r\nHost: d\r\n\r\n".encode())
        s.settimeout(10)
        s.recv(1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
        daemon.docker("stop", "-t", "0", name, check=True)
        daemon.docker("run", "--rm", "--network", "none", "busybox", "true", check=True)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # a late log line has its chance to show
            time.sleep(0.2)
        added = daemon.log_path.read_text(errors="replace")[len(before) :]
        assert "Traceback" not in added and " ERROR " not in added, added
    finally:
        daemon.docker("rm", "-f", name)
