"""Atomic file writes: temp file, rename. The one way records, exit statuses and
configs become visible, so a crash leaves the old file or the new one, never
half of either.

`durable` adds an fsync before the rename (~7.5 ms on this machine's ext4, and
the event loop waits for it): for what must survive a power cut — a container
or network as created. State that changes on every start and exit (running,
exit codes, endpoints), and anything under the exec root (tmpfs in production),
is written without: a daemon that is killed loses nothing (the page cache
outlives it), ext4 orders a rename over an existing file after its data, and a
host that loses power loses its containers' processes anyway."""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from typing import Any


def write_atomic(path: str, data: bytes, durable: bool = True) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.rename(tmp, path)


def write_json_atomic(path: str, value: Any, durable: bool = True) -> None:
    write_atomic(path, json.dumps(value).encode(), durable)


class JsonFiles:
    """Small JSON files read through a bounded cache: the daemon's own per-container
    files, which only it writes (through `write`), and which `ps` and inspect read
    for every container on each call."""

    def __init__(self, size: int = 8192) -> None:
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._size = size

    def read(self, path: str, default: Any) -> Any:
        try:
            value = self._cache[path]
            self._cache.move_to_end(path)
            return value
        except KeyError:
            pass
        try:
            with open(path) as f:
                value = json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return default
        self._remember(path, value)
        return value

    def write(self, path: str, value: Any, durable: bool = False) -> None:
        write_json_atomic(path, value, durable)
        self._remember(path, value)

    def _remember(self, path: str, value: Any) -> None:
        self._cache[path] = value
        self._cache.move_to_end(path)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
