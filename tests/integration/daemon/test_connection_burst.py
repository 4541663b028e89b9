"""1000 clients connecting at once are all answered (issue 11 item 7): the API socket
listens with dockerd's backlog (4096), so a burst waits in the queue instead of being
refused, and accept keeps up. Bounded: 1000 connections, 120 s."""

from __future__ import annotations

import errno
import os
import resource
import selectors
import socket
import time
from typing import Any

import pytest

from tests.waiting import wait_until

N = 1000
PING = b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"


def burst(sock_path: str, n: int = N, deadline_s: float = 120) -> tuple[int, int, int]:
    """Connect n clients without waiting, then ping on each: (refused, answered, failed)."""
    clients: list[socket.socket] = []
    refused = 0
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(sock_path)
            except OSError as exc:  # EAGAIN: the listen queue was full
                assert exc.errno in (errno.EAGAIN, errno.ECONNREFUSED), exc
                refused += 1
                s.close()
                continue
            clients.append(s)
        sel = selectors.DefaultSelector()
        replies: dict[socket.socket, bytearray] = {}
        for s in clients:
            s.setblocking(True)
            s.sendall(PING)
            s.setblocking(False)
            replies[s] = bytearray()
            sel.register(s, selectors.EVENT_READ)
        open_ = len(clients)
        end = time.monotonic() + deadline_s
        while open_ and time.monotonic() < end:
            for key, _ in sel.select(timeout=1):
                s = key.fileobj
                assert isinstance(s, socket.socket)
                try:
                    chunk = s.recv(4096)
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    replies[s] += chunk
                else:
                    sel.unregister(s)
                    open_ -= 1
        answered = sum(
            1 for r in replies.values() if r.startswith(b"HTTP/1.1 200") and r.endswith(b"OK")
        )
        return refused, answered, len(clients) - answered
    finally:
        for s in clients:
            s.close()


def test_thousand_connections_at_once(daemon: Any) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < N + 100:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below {N + 100}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, N + 100), hard))
    fds = f"/proc/{daemon.proc.pid}/fd"
    before = len(os.listdir(fds))
    try:
        refused, answered, failed = burst(daemon.sock)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert (refused, answered, failed) == (0, N, 0)
    # every connection is closed again: the daemon holds no more descriptors than before
    wait_until(lambda: len(os.listdir(fds)) <= before + 10, "the burst's sockets closed", 60)
