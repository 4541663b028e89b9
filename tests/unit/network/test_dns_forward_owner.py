"""The embedded DNS server's forwards to upstream resolvers have an owner: the
protocol holds each pending forward (asyncio keeps only weak references to tasks,
see docs/design-notes.md) and cancels them when its socket closes."""

from __future__ import annotations

import asyncio
import os
import random
import socket

import pytest
from dnslib import DNSRecord

from dockyard.network.dns import _Udp

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (binds port 53)")


async def _until(cond, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(500):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_pending_forwards_are_held_and_cancelled_on_close() -> None:
    # an upstream that never answers: a bound socket on a unique loopback address
    upstream = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind((upstream, 53))

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(
            lambda: _Udp(lambda name: [], [upstream]), local_addr=("127.0.0.1", 0)
        )
        port = transport.get_extra_info("sockname")[1]
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            client.sendto(DNSRecord.question("example.org").pack(), ("127.0.0.1", port))
            await _until(lambda: len(proto.forwards) == 1, "the forward to be held")
            task = next(iter(proto.forwards))
            assert not task.done()
            transport.close()
            await _until(task.done, "the forward to end")
            assert task.cancelled() and not proto.forwards
        finally:
            client.close()

    try:
        asyncio.run(scenario())
    finally:
        silent.close()
