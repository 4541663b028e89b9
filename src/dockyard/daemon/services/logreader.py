"""Reading a container's json-file log for `docker logs` (and `attach?logs=1`):
the rotated files oldest first, then the current one, optionally followed.

Entries are read and rendered one at a time, never a whole file at once: a log
of 1 GB of output is ~7 GB of JSON, and `docker logs` of it must not hold it in
memory (a client that reads slowly holds the generator, not a copy of the log).
`--tail N` keeps the last N entries only (a bounded deque)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from dockyard.monitor import jsonlog
from dockyard.proto import stdcopy

# seconds: a follower re-reads the file at least this often (the monitor's output
# wakes it sooner; the environment may say more: a test that must see a wake-up)
_POLL = float(os.environ.get("DOCKYARD_LOG_FOLLOW_POLL") or 1.0)


@dataclass(frozen=True)
class LogQuery:
    stdout: bool
    stderr: bool
    since_ns: int = 0
    until_ns: int = 0
    timestamps: bool = False
    tail: int | None = None

    def render(self, raw: bytes) -> tuple[int, bytes] | None:
        """One line of the file as (stream, bytes to send), or None if filtered out."""
        try:
            entry = json.loads(raw)
        except json.JSONDecodeError:
            return None
        stream = entry.get("stream")
        if not (stream == "stdout" and self.stdout or stream == "stderr" and self.stderr):
            return None
        t = entry.get("time", "")
        if self.since_ns or self.until_ns:
            ts = jsonlog.parse_rfc3339_nano(t)
            if ts < self.since_ns or (self.until_ns and ts > self.until_ns):
                return None
        data = entry.get("log", "").encode()
        if self.timestamps:
            data = t.encode() + b" " + data
        return (stdcopy.STDOUT if stream == "stdout" else stdcopy.STDERR, data)


class Follow:
    """What a follower waits on: `changed()` is an event set when output came,
    `alive()` is False once no more can come; `following()` holds the monitor's
    output on while the follower waits (`outputs.Fanout.following`)."""

    def __init__(
        self,
        changed: Callable[[], asyncio.Event],
        alive: Callable[[], bool],
        following: Callable[[], contextlib.AbstractContextManager[None]],
    ) -> None:
        self.changed = changed
        self.alive = alive
        self.following = following


def _complete_lines(f: BinaryIO) -> Iterator[bytes]:
    """Every complete line from f's position; f is left after the last one."""
    pos = f.tell()
    for line in f:
        if not line.endswith(b"\n"):
            break  # being written: a follower reads it once it is whole
        pos += len(line)
        yield line
    f.seek(pos)


def _old_lines(path: str) -> Iterator[bytes]:
    for old in jsonlog.rotated(path)[:-1]:
        yield from jsonlog.read_lines(old)


async def read_log(
    path: str, q: LogQuery, follow: Follow | None
) -> AsyncIterator[tuple[int, bytes]]:
    try:
        f = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        f = None
    try:
        lines: Iterable[bytes] = _old_lines(path)
        if f is not None:
            lines = _chain(lines, _complete_lines(f))
        if q.tail is not None and q.tail >= 0:
            lines = collections.deque(lines, maxlen=q.tail) if q.tail else ()
        for raw in lines:
            out = q.render(raw)
            if out:
                yield out
        if follow is None or f is None:
            return
        with follow.following():
            while True:
                changed = follow.changed()
                alive = follow.alive()
                got = False
                for raw in _complete_lines(f):
                    got = True
                    out = q.render(raw)
                    if out:
                        yield out
                if got:
                    continue
                if _rotated_away(f, path):  # what we read became <path>.1: on to the new one
                    f.close()
                    f = open(path, "rb")  # noqa: SIM115
                    continue
                if not alive:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), _POLL)
    finally:
        if f is not None:
            f.close()


def _chain(a: Iterable[bytes], b: Iterable[bytes]) -> Iterator[bytes]:
    yield from a
    yield from b


def _rotated_away(f: BinaryIO, path: str) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(f.fileno()).st_ino
    except FileNotFoundError:
        return False
