"""A node's TLS service (the join service, which also serves its tasks' logs to managers)
stops promptly with a request still in flight, and a caller that goes away ends its
request: a `service logs -f` whose manager was gone kept a worker's handler following,
and the service's stop then waited aiohttp's default 60 s for it, inside `swarm leave`."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

import aiohttp
from aiohttp import web

from dockyard.cluster.model.repo import ClusterObjects
from dockyard.cluster.security import pki
from dockyard.cluster.security.join import JOIN_PORT_OFFSET, JoinService
from dockyard.cluster.security.lock import SwarmLock
from dockyard.cluster.store.etcd import EtcdStore

DEADLINE = 20  # seconds: far above a prompt stop, well below aiohttp's 60 s default


def _free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1] - JOIN_PORT_OFFSET
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + JOIN_PORT_OFFSET))
                return port
            except OSError:
                continue


async def _serve_a_hanging_request(tmp: Path, leave_early: bool) -> tuple[bool, bool]:
    """(the handler was cancelled, stop returned within the deadline)."""
    tls = pki.NodeTLS(str(tmp / "tls"))
    pki.CA.create().issue_files(tls, "n1", "manager", ["127.0.0.1"])
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def hang(caller: str, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        started.set()
        try:
            await asyncio.Event().wait()  # a follower with no new line, ever
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return resp

    objs = ClusterObjects(EtcdStore(["http://127.0.0.1:1"]))  # not asked: no join part
    svc = JoinService(objs, None, tls, "127.0.0.1", _free_port(), SwarmLock(), {"/hang": hang})
    await svc.start()
    ctx = ssl.create_default_context(cafile=tls.ca)
    ctx.load_cert_chain(tls.cert, tls.key)
    http = aiohttp.ClientSession()
    req = asyncio.create_task(http.get(f"https://127.0.0.1:{svc.port}/hang", ssl=ctx))
    try:
        resp = await asyncio.wait_for(req, DEADLINE)
        await asyncio.wait_for(started.wait(), DEADLINE)
        if leave_early:  # the caller goes away; the service stays up
            resp.close()
            await http.close()
            await asyncio.wait_for(cancelled.wait(), DEADLINE)
        try:
            await asyncio.wait_for(svc.stop(), DEADLINE)
            stopped = True
        except TimeoutError:
            stopped = False
        return cancelled.is_set(), stopped
    finally:
        await http.close()


def test_stop_with_a_request_in_flight(tmp_path: Path) -> None:
    cancelled, stopped = asyncio.run(_serve_a_hanging_request(tmp_path, leave_early=False))
    assert stopped, "the service's stop waited for a request that never ends"
    assert cancelled


def test_a_caller_that_goes_away_ends_its_request(tmp_path: Path) -> None:
    cancelled, stopped = asyncio.run(_serve_a_hanging_request(tmp_path, leave_early=True))
    assert cancelled and stopped
