"""Where monitors run: the daemon's side of the monitor hosts (`monitor/host.py`).

Each container (and each exec) gets a monitor inside a host process that holds
up to `group_size` of them. The daemon keeps filling the current host; when it
answers "full", or is gone, the next host on disk is tried (hosts survive a
daemon restart, and their sockets under `exec-root/m/` are how a new daemon
finds them), and when none has room a new host is started: forked by the warm
zygote when it runs, else exec'd (`dockyard-monitor SOCKET SIZE`).
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import logging
import os
import secrets
import signal
import socket
import struct
import time
from collections.abc import Callable, Iterable
from typing import Any

from dockyard.daemon.services import outputs
from dockyard.daemon.services.outputs import Subscription
from dockyard.monitor import protocol
from dockyard.proto import stdcopy
from dockyard.runtime.signals import inherited_bad

log = logging.getLogger(__name__)
_FULL_RETRY = 30.0
_HOST_IGNORES = frozenset((signal.SIGTERM,))  # a host outlives its daemon's stop


class _Retired(Exception):
    """The host asked is not to be given containers any more."""


class MonitorHosts:
    def __init__(self, root: str, monitor_bin: str, group_size: int = 32) -> None:
        self.root = root
        self.monitor_bin = monitor_bin
        self.group_size = group_size
        self.zygote_socket: str | None = None
        self.current: str | None = None
        # Hosts that said "full", and when: not asked again for a while (a
        # host has room again only once some of its containers are gone).
        self.full: dict[str, float] = {}
        self.vetted: set[str] = set()  # hosts whose signal state was checked
        self._lock = asyncio.Lock()

    async def place(self, config_path: str) -> bytes:
        """A monitor for this config, created; its ready line (`monitor/protocol.py`)."""
        tried: set[str] = set()
        while True:
            try:
                path, new = await self._host(tried)
            except OSError as exc:
                return json.dumps({"ok": False, "error": f"monitor host: {exc}"}).encode()
            try:
                line = await self._ask(path, config_path)
            except (FileNotFoundError, ConnectionRefusedError):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)  # no one listens: a host that died
                line = b""
            except _Retired:
                line = b""
            except OSError as exc:
                log.warning("monitor host %s: %s", path, exc)
                line = b""
            if line.strip():
                try:
                    full = json.loads(line).get("full")
                except (json.JSONDecodeError, AttributeError):
                    full = False
                if not full:
                    return line
                self.full[path] = time.monotonic()
            elif new:
                # A host just started went away without a word: do not loop.
                return json.dumps({"ok": False, "error": "monitor host went away"}).encode()
            tried.add(path)  # full, or it went away before answering

    async def _ask(self, path: str, config_path: str) -> bytes:
        reader, writer = await asyncio.open_unix_connection(path)
        try:
            if path not in self.vetted:
                self._vet(path, writer.get_extra_info("socket"))
            writer.write(config_path.encode() + b"\n")
            await writer.drain()
            return await reader.readline()
        finally:
            writer.close()

    def _vet(self, path: str, sock: socket.socket) -> None:
        """A host found on disk may have been started by an older daemon with signals
        ignored or blocked (`nohup dockyardd &`), which its forks would pass on to
        containers: such a host keeps its containers but is given no new ones."""
        pid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
        try:
            bad = inherited_bad(pid, _HOST_IGNORES)
        except OSError:
            bad = False  # not ours to see: the ask itself will tell
        if bad:
            log.warning("monitor host %s (pid %d) ignores or blocks signals; not reused", path, pid)
            self.full[path] = float("inf")
            raise _Retired(path)
        self.vetted.add(path)

    async def _host(self, tried: set[str]) -> tuple[str, bool]:
        """The host to ask (and whether it was just started): the current one, else
        one on disk not known to be full, else a new one."""
        async with self._lock:
            if self.current and self.current not in tried:
                return self.current, False
            now = time.monotonic()
            for path in sorted(glob.glob(os.path.join(self.root, "*.sock"))):
                if path not in tried and now - self.full.get(path, -1e9) > _FULL_RETRY:
                    self.current = path
                    return path, False
            self.current = await self._start_host()
            self.full = {p: t for p, t in self.full.items() if now - t <= _FULL_RETRY}
            return self.current, True

    async def _start_host(self) -> str:
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        path = os.path.join(self.root, secrets.token_hex(4) + ".sock")
        request = f"{path} {self.group_size}"
        if self.zygote_socket:
            try:
                reader, writer = await asyncio.open_unix_connection(self.zygote_socket)
            except OSError as exc:
                log.warning("monitor zygote unreachable (%s); exec'ing the monitor host", exc)
            else:
                try:
                    writer.write(request.encode() + b"\n")
                    await writer.drain()
                    if (await reader.readline()).strip() == b"ready":
                        return path
                finally:
                    writer.close()
                log.warning("monitor zygote's host did not start; exec'ing one")
        proc = await asyncio.create_subprocess_exec(
            self.monitor_bin, path, str(self.group_size),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        await proc.wait()
        if line.strip() != b"ready":
            raise OSError(f"monitor host {path} did not start")
        return path


async def read_link(
    reader: asyncio.StreamReader,
    on_control: Callable[[dict[str, Any]], None],
    on_output: Callable[[stdcopy.Frame], None],
    subscriptions: Iterable[Subscription] = (),
) -> None:
    """A monitor link until its end: control messages and output frames to the
    callbacks (a container's link and an exec's alike). While one of
    `subscriptions` is full, the link is not read: the backpressure reaches the
    monitor (`outputs.py`). Raises ConnectionError, ValueError (a bad frame or
    message)."""
    decoder = stdcopy.FrameDecoder()
    while data := await reader.read(1 << 18):
        decoder.feed(data)
        for frame in decoder:
            if frame.stream == stdcopy.CONTROL:
                on_control(protocol.parse_control(frame.data))
            else:
                on_output(frame)
        await outputs.room(subscriptions)


def output_wanted(writer: asyncio.StreamWriter | None, on: bool) -> None:
    """Tell a monitor whether this link wants the process's output: a detached
    container's output need not cross into the daemon (its log is the monitor's)."""
    if writer is not None and not writer.is_closing():
        writer.write(protocol.control({"op": "output", "on": on}))
