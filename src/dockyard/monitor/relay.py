"""A monitor's links to the daemon: the connected clients, what is queued for
each, and the backpressure from them to the container's output.

Output goes only to the links that want it (`{"op": "output", "on": false}`
turns it off: a detached container's output need not cross into the daemon,
whose log is the monitor's). While one of those links holds more than `HIGH`
bytes unsent, the monitor stops reading the container's pipes (`paused`): the
pipes fill and the container blocks in write(2), as under dockerd when an
attached client stops reading. Reading resumes once every link is under `LOW`.
Its log is written as output is read, so it stays complete and in order.
"""

from __future__ import annotations

import selectors
import socket
from collections.abc import Callable
from typing import Any

from dockyard.proto import stdcopy

HIGH = 1 << 20
LOW = 256 << 10
# A link that holds this much (control messages to a link that never reads)
# is dropped: output alone never gets there, it pauses at HIGH.
MAX_BACKLOG = 16 << 20


class Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.decoder = stdcopy.FrameDecoder()
        self.out = bytearray()
        self.wants_output = True
        self.reading = True  # False while the process does not take its input


class Links:
    def __init__(
        self, sel: selectors.BaseSelector, owner: Any, on_pause: Callable[[bool], None]
    ) -> None:
        self.sel = sel
        self.owner = owner  # the selector key's data is (owner, "client", client)
        self.clients: list[Client] = []
        self.paused = False
        self._on_pause = on_pause
        self._not_read: list[Client] = []

    def add(self, sock: socket.socket) -> Client:
        c = Client(sock)
        self.clients.append(c)
        self.sel.register(sock, selectors.EVENT_READ, (self.owner, "client", c))
        return c

    def send(self, data: bytes, only: Client | None = None) -> None:
        for c in [only] if only else list(self.clients):
            self._queue(c, data)

    def send_output(self, data: bytes) -> None:
        """An output frame to every link that wants it; past HIGH, pause."""
        for c in list(self.clients):
            if c.wants_output:
                self._queue(c, data)
        if not self.paused and any(len(c.out) > HIGH for c in self.clients if c.wants_output):
            self.paused = True
            self._on_pause(True)

    def want_output(self, c: Client, on: bool) -> None:
        c.wants_output = on
        self._maybe_resume()

    def _queue(self, c: Client, data: bytes) -> None:
        if len(c.out) > MAX_BACKLOG:
            self.drop(c)
            return
        c.out += data
        self.flush(c)

    def flush(self, c: Client) -> None:
        while c.out:
            try:
                n = c.sock.send(c.out)
            except BlockingIOError:
                break
            except OSError:
                self.drop(c)
                return
            del c.out[:n]
        if c in self.clients:
            self._watch(c)
            self._maybe_resume()

    def _watch(self, c: Client) -> None:
        events = (selectors.EVENT_READ if c.reading else 0) | (
            selectors.EVENT_WRITE if c.out else 0
        )
        registered = c.sock in self.sel.get_map()
        if events and registered:
            self.sel.modify(c.sock, events, (self.owner, "client", c))
        elif events:
            self.sel.register(c.sock, events, (self.owner, "client", c))
        elif registered:
            self.sel.unregister(c.sock)

    def stop_reading(self, c: Client) -> None:
        """The process does not take its input: this link's input waits in its socket."""
        if c.reading and c in self.clients:
            c.reading = False
            self._not_read.append(c)
            self._watch(c)

    def read_again(self) -> None:
        not_read, self._not_read = self._not_read, []
        for c in not_read:
            c.reading = True
            if c in self.clients:
                self._watch(c)

    def _maybe_resume(self) -> None:
        if self.paused and all(len(c.out) < LOW for c in self.clients if c.wants_output):
            self.paused = False
            self._on_pause(False)

    def drop(self, c: Client) -> None:
        if c in self.clients:
            self.clients.remove(c)
            if c.sock in self.sel.get_map():
                self.sel.unregister(c.sock)
            c.sock.close()
            self._maybe_resume()

    def close(self) -> None:
        """Give each link what it is owed (a second at most), then close it."""
        for c in list(self.clients):
            if c.sock in self.sel.get_map():
                self.sel.unregister(c.sock)
            c.sock.setblocking(True)
            c.sock.settimeout(1.0)
            try:
                c.sock.sendall(bytes(c.out))
            except OSError:
                pass
            c.sock.close()
        self.clients.clear()
