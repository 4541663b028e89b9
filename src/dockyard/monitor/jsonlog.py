"""Docker's json-file log format: one JSON object per line,
`{"log": "hello\\n", "stream": "stdout", "time": "2024-01-01T00:00:00.000000000Z"}`.
Output is split at newlines; a partial line is flushed when the stream ends."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import threading
from typing import Any

# The log's time is moby's RFC3339NanoFixed (nine digits); the home of both forms is
# proto.timetypes. Named here as the daemon's callers know it.
from dockyard.proto.timetypes import parse_rfc3339_nano as parse_rfc3339_nano
from dockyard.proto.timetypes import rfc3339_nano_fixed as rfc3339_nano


class LineSplitter:
    """Bytes in, runs of output out: a run is either one or more complete lines
    (each ending in a newline) or, for a line longer than `max_line` with no
    newline yet, a `max_line` piece of it (a partial entry, as dockerd writes
    past 16 KiB). `flush` gives the rest. Whole runs, not single lines, so the
    writer frames a read's lines in a few C-level passes (`encode_lines`)."""

    def __init__(self, max_line: int = 16 * 1024) -> None:
        self._buf = b""
        self._max = max_line

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf + data if self._buf else data
        end = buf.rfind(b"\n") + 1
        runs = [buf[:end]] if end else []
        rest = buf[end:] if end else buf
        while len(rest) >= self._max:
            runs.append(rest[: self._max])
            rest = rest[self._max :]
        self._buf = rest
        return runs

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


# What json.dumps escapes (ensure_ascii=False): the quote, the backslash and
# the control characters; the newline is the line separator here.
_SPECIAL = bytes([*range(0x0A), *range(0x0B, 0x20)]) + b'"\\'
_CONTROL = re.compile(rb"[\x00-\x09\x0b-\x1f]")
_CONTROL_ESCAPES = {bytes([i]): json.dumps(chr(i))[1:-1].encode() for i in range(32)}


def encode_lines(stream: str, run: bytes, ns: int | None = None) -> bytes:
    """`entry` for each line of `run` (lines ending in a newline, the last one
    may be partial), all with one time, byte for byte what `entry` gives.
    Newline-heavy output is the common case (1 GB of short lines is ~100 M
    entries): a Python call per line costs more than dockerd's whole log path,
    so the run is escaped and framed with a few bytes.replace passes, and only
    invalid UTF-8 (rare; replaced with U+FFFD) goes line by line."""
    try:
        run.decode("utf-8")
    except UnicodeDecodeError:
        return b"".join(entry(stream, line, ns) for line in _split_lines(run))
    if len(run.translate(None, _SPECIAL)) != len(run):  # (a regex search is 7x slower)
        run = run.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
        run = _CONTROL.sub(lambda m: _CONTROL_ESCAPES[m.group()], run)
    tail = f'","stream":"{stream}","time":"{rfc3339_nano(ns)}"}}\n'.encode()
    head = b'{"log":"'
    if run.endswith(b"\n"):
        body = run[:-1].replace(b"\n", b"\\n" + tail + head)
        return head + body + b"\\n" + tail
    return head + run.replace(b"\n", b"\\n" + tail + head) + tail


def _split_lines(run: bytes) -> list[bytes]:
    lines = run.split(b"\n")
    last = lines.pop()
    out = [line + b"\n" for line in lines]
    if last:
        out.append(last)
    return out


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
        self._put(entry(stream, line))

    def write_run(self, stream: str, run: bytes) -> None:
        """A run of lines (`LineSplitter`), framed at once and written with one
        write(2) unless the file must rotate inside it."""
        data = encode_lines(stream, run)
        if self.max_size and self.size + len(data) > self.max_size:
            for e in data.split(b"\n")[:-1]:  # escaped: a raw newline ends an entry
                self._put(e + b"\n")
            return
        self.f.write(data)
        self.size += len(data)

    def _put(self, data: bytes) -> None:
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
