"""Warm sandboxes for the default bridge: network namespaces made ahead of need.

Making a container's network costs ~25 ms on this machine (an exec of
`unshare` for the namespace, the veth pair over netlink, an exec of `ip` inside
for the address and route), on the path of every `docker run`. Most containers
go on the default bridge with an address IPAM picks, so the pool keeps a few
such sandboxes ready: namespace with lo up, veth pair plugged into the bridge,
eth0 addressed and routed. Attaching takes one (a bind mount of its namespace
onto the container's path, ~0.1 ms) and a refill starts in the background.

A pooled sandbox's address is reserved in IPAM (`ips`) until it is taken or
dropped. Pooled namespaces live under exec-root/netns/pool-*; the daemon drops
them when it stops, and one that restarts after a crash removes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import glob
import ipaddress
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dockyard.mountflags import MS_BIND
from dockyard.network import ipam, links, netns

log = logging.getLogger(__name__)
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass
class Sandbox:
    path: str
    veth: str
    ip: str
    mac: str


class SandboxPool:
    def __init__(
        self,
        root: str,
        network: Callable[[], dict[str, Any]],
        used_ips: Callable[[], list[str]],
        lock: asyncio.Lock,
        mtu: int,
        size: int = 2,
    ) -> None:
        self.root = root
        self.network = network  # the default bridge network's record
        self.used_ips = used_ips  # addresses taken by endpoints
        self.lock = lock  # the network service's: IPAM decisions are made under it
        self.mtu = mtu
        self.size = size
        self.ready: list[Sandbox] = []
        self.ips: set[str] = set()  # reserved by the pool (ready or being made)
        self._making: set[str] = set()  # veths of sandboxes being made
        self._filling: asyncio.Task[None] | None = None

    def clean_leftovers(self) -> None:
        """Pooled namespaces a crashed daemon left behind."""
        for path in glob.glob(os.path.join(self.root, "pool-*")):
            with contextlib.suppress(Exception):
                netns.remove(path)

    def veths(self) -> set[str]:
        """The host ends the pool holds (ready or being made); under `lock`, no
        new one starts."""
        return {sb.veth for sb in self.ready} | self._making

    def take(self) -> Sandbox | None:
        """A ready sandbox (its address still reserved until `adopted`), or None."""
        sb = self.ready.pop(0) if self.ready else None
        self.refill()
        return sb

    def adopt(self, sb: Sandbox, path: str) -> None:
        """The sandbox's namespace becomes the container's (`path`); blocking, ~0.1 ms."""
        with open(path, "w"):
            pass
        if _libc.mount(os.fsencode(sb.path), os.fsencode(path), None, MS_BIND, None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"bind mount of {sb.path}: {os.strerror(err)}")
        netns.remove(sb.path)  # the namespace stays: `path` holds it now

    def release(self, sb: Sandbox) -> None:
        self.ips.discard(sb.ip)

    def refill(self) -> None:
        if self.size > 0 and (self._filling is None or self._filling.done()):
            self._filling = asyncio.ensure_future(self._fill())

    async def _fill(self) -> None:
        while len(self.ready) < self.size:
            async with self.lock:
                n = self.network()
                sub = n["IPAM"]["Config"][0]
                try:
                    ip = ipam.allocate(
                        sub["Subnet"], sub["Gateway"], [*self.used_ips(), *self.ips],
                        sub.get("IPRange"), None,
                    )  # fmt: skip
                except Exception:
                    return  # the subnet is full: containers get what is left
                self.ips.add(ip)
                sb = Sandbox(
                    path=os.path.join(self.root, "pool-" + secrets.token_hex(4)),
                    veth="veth" + secrets.token_hex(4)[:7],
                    ip=ip,
                    mac=ipam.mac_for(ip),
                )
                self._making.add(sb.veth)
            plen = ipaddress.IPv4Network(sub["Subnet"]).prefixlen
            try:
                await asyncio.to_thread(self._make, sb, n["_bridge"], plen, sub["Gateway"])
            except Exception as exc:
                self.ips.discard(ip)
                log.warning("network sandbox pool: %s", exc)
                return
            finally:
                self._making.discard(sb.veth)
            self.ready.append(sb)

    def _make(self, sb: Sandbox, bridge: str, plen: int, gateway: str) -> None:
        netns.create(sb.path)
        try:
            links.add_veth(sb.veth, "eth0", sb.path, bridge, self.mtu)
            netns.run_ip(
                sb.path,
                [
                    f"link set eth0 address {sb.mac}",
                    f"addr add {sb.ip}/{plen} dev eth0",
                    "link set eth0 up",
                    f"route add default via {gateway} dev eth0",
                ],
            )
        except BaseException:
            self._drop(sb)
            raise

    def _drop(self, sb: Sandbox) -> None:
        links.unplug(sb.veth)
        netns.remove(sb.path)

    async def close(self) -> None:
        self.size = 0
        if self._filling is not None:
            await asyncio.gather(self._filling, return_exceptions=True)
        ready, self.ready = self.ready, []
        for sb in ready:
            await asyncio.to_thread(self._drop, sb)
            self.ips.discard(sb.ip)
