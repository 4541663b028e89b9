"""The embedded DNS server for containers on user-defined networks.

Each container on a user network gets its own server sockets on 127.0.0.11:53
inside its namespace (bound by a tiny stdlib-only helper exec'd in the namespace, passed back over
SCM_RIGHTS), served from the daemon's event loop: the socket tells which
container asks, so names resolve within that container's networks only.
dnslib encodes/decodes the wire format (a small, pure-Python, well-kept
library; hand-writing name compression and record packing is not worth it).
Names not known here are forwarded to the host's resolvers when enabled
(never in tests: they must not send traffic off the host).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import subprocess
import sys
from collections.abc import Callable

from dnslib import QTYPE, RCODE, RR, A, DNSRecord

log = logging.getLogger("dockyard.dns")

Lookup = Callable[[str], list[str]]

# Run as `python -S -I -c` (stdlib only, no site: ~10 ms instead of ~150 ms with the
# venv's site and the dockyard package).
_HELPER = (
    "import socket,sys\n"
    "c=socket.socket(fileno=int(sys.argv[1]))\n"
    "u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);u.bind(('127.0.0.11',53))\n"
    "t=socket.socket(socket.AF_INET,socket.SOCK_STREAM)\n"
    "t.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);t.bind(('127.0.0.11',53));t.listen(16)\n"
    "socket.send_fds(c,[b'ok'],[u.fileno(),t.fileno()])\n"
)


def open_sockets(netns_path: str) -> tuple[socket.socket, socket.socket]:
    """UDP and TCP sockets bound on 127.0.0.11:53 inside the namespace at netns_path."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        p = subprocess.run(
            [
                "nsenter",
                f"--net={netns_path}",
                sys.executable,
                "-S",
                "-I",
                "-c",
                _HELPER,
                str(theirs.fileno()),
            ],  # fmt: skip
            pass_fds=[theirs.fileno()],
            capture_output=True,
            text=True,
            timeout=10,
        )
        theirs.close()
        if p.returncode != 0:
            raise OSError(f"dns helper failed: {p.stderr.strip()[-300:]}")
        _msg, fds, _flags, _addr = socket.recv_fds(mine, 16, 2)
    finally:
        mine.close()
        with contextlib.suppress(OSError):
            theirs.close()
    return socket.socket(fileno=fds[0]), socket.socket(fileno=fds[1])


def answer(query: bytes, lookup: Lookup) -> tuple[bytes | None, bool]:
    """The reply to one query, and whether the name was ours (pure)."""
    try:
        req = DNSRecord.parse(query)
    except Exception:
        return None, True
    reply = req.reply()
    q = req.q
    name = str(q.qname).rstrip(".")
    addrs = lookup(name)
    if not addrs:
        reply.header.rcode = RCODE.NXDOMAIN
        return reply.pack(), False
    if q.qtype in (QTYPE.A, QTYPE.ANY):
        for a in addrs:
            reply.add_answer(RR(q.qname, QTYPE.A, rdata=A(a), ttl=600))
    return reply.pack(), True


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, done: asyncio.Future[bytes]) -> None:
        self.done = done

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.done.done():
            self.done.set_result(data)


async def forward(
    query: bytes, upstreams: list[str], timeout: float = 2.0, port: int = 53
) -> bytes | None:
    """The first upstream's reply to `query` (UDP from the host's namespace), or None."""
    loop = asyncio.get_running_loop()
    for server in upstreams:
        done: asyncio.Future[bytes] = loop.create_future()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda done=done: _Upstream(done), remote_addr=(server, port)
            )
        except OSError:
            continue
        try:
            transport.sendto(query)
            return await asyncio.wait_for(done, timeout)
        except (TimeoutError, OSError):
            continue
        finally:
            transport.close()
    return None


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, lookup: Lookup, upstreams: list[str]) -> None:
        self.lookup = lookup
        self.upstreams = upstreams
        self.transport: asyncio.DatagramTransport | None = None
        # Pending forwards, owned here: asyncio holds tasks only weakly (design notes).
        self.forwards: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        for task in self.forwards:
            task.cancel()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        out, ours = answer(data, self.lookup)
        if out is None or self.transport is None:
            return
        if ours or not self.upstreams:
            self.transport.sendto(out, addr)
            return
        task = asyncio.get_running_loop().create_task(self._forward(data, addr, out))
        self.forwards.add(task)
        task.add_done_callback(self.forwards.discard)

    async def _forward(self, data: bytes, addr: tuple[str, int], fallback: bytes) -> None:
        reply = await forward(data, self.upstreams)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply or fallback, addr)


class Server:
    """One container's DNS endpoint (UDP and TCP) served on the running loop."""

    def __init__(self, lookup: Lookup, upstreams: list[str] | None = None) -> None:
        self.lookup = lookup
        self.upstreams = upstreams or []
        self.udp: asyncio.DatagramTransport | None = None
        self.tcp: asyncio.base_events.Server | None = None

    async def start(self, netns_path: str) -> None:
        udp, tcp = await asyncio.to_thread(open_sockets, netns_path)
        loop = asyncio.get_running_loop()
        self.udp, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self.lookup, self.upstreams), sock=udp
        )
        self.tcp = await asyncio.start_server(self._tcp_client, sock=tcp)

    async def _tcp_client(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while True:
                n = int.from_bytes(await r.readexactly(2), "big")
                out, _ = answer(await r.readexactly(n), self.lookup)
                if out is None:
                    break
                w.write(len(out).to_bytes(2, "big") + out)
                await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            w.close()

    def close(self) -> None:
        if self.udp is not None:
            self.udp.close()
        if self.tcp is not None:
            self.tcp.close()
