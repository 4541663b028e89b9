"""Docker's json-file log format: one JSON object per line,
`{"log": "hello\\n", "stream": "stdout", "time": "2024-01-01T00:00:00.000000000Z"}`.
Output is split at newlines; a partial line is flushed when the stream ends."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any


def rfc3339_nano(ns: int | None = None) -> str:
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def parse_rfc3339_nano(value: str) -> int:
    """Inverse of rfc3339_nano for the UTC 'Z' form (what we write)."""
    import calendar

    main, _, rest = value.partition(".")
    frac = rest.rstrip("Z")
    secs = calendar.timegm(time.strptime(main.rstrip("Z"), "%Y-%m-%dT%H:%M:%S"))
    return secs * 1_000_000_000 + int((frac + "000000000")[:9] or 0)


class LineSplitter:
    """Bytes in, complete lines out (newline kept); `flush` gives the rest."""

    def __init__(self, max_line: int = 16 * 1024) -> None:
        self._buf = b""
        self._max = max_line

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._buf += data
        while True:
            i = self._buf.find(b"\n")
            if i < 0:
                break
            line, self._buf = self._buf[: i + 1], self._buf[i + 1 :]
            yield line
        while len(self._buf) >= self._max:
            line, self._buf = self._buf[: self._max], self._buf[self._max :]
            yield line

    def flush(self) -> bytes:
        rest, self._buf = self._buf, b""
        return rest


def entry(stream: str, data: bytes, ns: int | None = None) -> bytes:
    obj: dict[str, Any] = {
        "log": data.decode("utf-8", "replace"),
        "stream": stream,
        "time": rfc3339_nano(ns),
    }
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
