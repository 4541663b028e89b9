"""Docker's json-file log format: one JSON object per line,
`{"log": "hello\\n", "stream": "stdout", "time": "2024-01-01T00:00:00.000000000Z"}`.
Output is split at newlines; a partial line is flushed when the stream ends."""

from __future__ import annotations

import calendar
import gzip
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from typing import Any


def rfc3339_nano(ns: int | None = None) -> str:
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def parse_rfc3339_nano(value: str) -> int:
    """Inverse of rfc3339_nano for the UTC 'Z' form (what we write), in ns.
    By hand: `time.strptime` costs ~10 µs, and `ps` parses every container's."""
    try:
        secs = calendar.timegm(
            (int(value[0:4]), int(value[5:7]), int(value[8:10]),
             int(value[11:13]), int(value[14:16]), int(value[17:19]), 0, 0, 0)
        )  # fmt: skip
    except (ValueError, IndexError):
        raise ValueError(f"not an RFC 3339 time: {value!r}") from None
    frac = value[20:].rstrip("Z") if value[19:20] == "." else ""
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


class Writer:
    """A json-file log with Docker's rotation (`--log-opt max-size/max-file/compress`):
    past `max_size` bytes the file becomes `<path>.1` (older ones shift to .2 …
    up to max_file - 1; gzipped as `<path>.N.gz` with `compress`, in a thread so
    the monitor host goes on) and a new one starts; with max_file 1 it starts over."""

    def __init__(
        self, path: str, max_size: int = 0, max_file: int = 1, compress: bool = False
    ) -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max(1, max_file)
        self.compress = compress and self.max_file > 1
        self.f = open(path, "ab", buffering=0)  # noqa: SIM115
        self.size = self.f.tell()
        self._zipper: threading.Thread | None = None

    def write(self, stream: str, line: bytes) -> None:
        data = entry(stream, line)
        if self.max_size and self.size and self.size + len(data) > self.max_size:
            self.rotate()
        self.f.write(data)
        self.size += len(data)

    def rotate(self) -> None:
        self.f.close()
        if self.max_file > 1:
            if self._zipper is not None:
                self._zipper.join()  # the previous .1 is compressed before it moves
            ext = ".gz" if self.compress else ""
            for n in range(self.max_file - 1, 1, -1):
                try:
                    os.replace(f"{self.path}.{n - 1}{ext}", f"{self.path}.{n}{ext}")
                except FileNotFoundError:
                    pass
            os.replace(self.path, f"{self.path}.1")
            if self.compress:
                self._zipper = threading.Thread(target=_gzip, args=(f"{self.path}.1",))
                self._zipper.start()
            self.f = open(self.path, "ab", buffering=0)  # noqa: SIM115
        else:
            self.f = open(self.path, "wb", buffering=0)  # noqa: SIM115
        self.size = 0

    def close(self) -> None:
        self.f.close()
        if self._zipper is not None:
            self._zipper.join()


def _gzip(path: str) -> None:
    with open(path, "rb") as src, gzip.open(path + ".gz.tmp", "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(path + ".gz.tmp", path + ".gz")
    os.unlink(path)


def rotated(path: str) -> list[str]:
    """A log's files, oldest first: <path>.N[.gz] … <path>.1[.gz], <path>."""
    out = []
    n = 1
    while True:
        if os.path.exists(f"{path}.{n}"):
            out.append(f"{path}.{n}")  # (while it is being compressed, too)
        elif os.path.exists(f"{path}.{n}.gz"):
            out.append(f"{path}.{n}.gz")
        else:
            break
        n += 1
    return [*reversed(out), path]


def read_lines(path: str) -> list[bytes]:
    """Every complete line of one of a log's files (gzipped or not); [] if gone."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            lines = f.readlines()
    except FileNotFoundError:
        return []
    if lines and not lines[-1].endswith(b"\n"):
        lines.pop()
    return lines
