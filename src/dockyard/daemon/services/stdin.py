"""A process's input on a monitor connection of its own, with backpressure.

Input a container does not read must not pile up in the daemon or in its
monitor host (it did: 300 MB piped into `sleep` were held). Each write here
waits until the monitor takes it (`drain`); the monitor stops reading a
connection whose input the process does not take (`monitor/relay.py`), so a
client's input waits in its own socket. Control messages (kill, resize) keep
the process's main link, which the monitor always reads: a kill is never stuck
behind input. `close_stdin` goes this way too, after the input it ends.
"""

from __future__ import annotations

import asyncio
import contextlib

from dockyard.monitor import protocol
from dockyard.proto import stdcopy


class StdinLink:
    def __init__(self) -> None:
        self._path: str | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()

    def linked(self, path: str | None) -> None:
        """The monitor's socket once its main link is up; None when it ends."""
        self._path = path
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def send(self, data: bytes) -> None:
        await self._write(stdcopy.encode(stdcopy.STDIN, data))

    async def close_stdin(self) -> None:
        await self._write(protocol.control({"op": "close_stdin"}))

    async def _write(self, frame: bytes) -> None:
        async with self._lock:
            path = self._path
            if path is None:
                return  # no process to take it (as before: dropped)
            try:
                if self._writer is None or self._writer.is_closing():
                    _, self._writer = await asyncio.open_unix_connection(path)
                    # no output on this link: nobody reads it (monitors send until told)
                    self._writer.write(protocol.control({"op": "output", "on": False}))
                    if self._path != path:  # the link ended meanwhile
                        self._writer.close()
                        self._writer = None
                        return
                self._writer.write(frame)
                await self._writer.drain()
            except (OSError, ConnectionError):
                with contextlib.suppress(Exception):
                    if self._writer is not None:
                        self._writer.close()
                self._writer = None
