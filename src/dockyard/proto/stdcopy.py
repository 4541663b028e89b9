"""Docker's multiplexed stream frames (sans-I/O).

A frame is an 8-byte header `[stream, 0, 0, 0, size(uint32 big-endian)]`
followed by `size` bytes. Streams 0/1/2 are stdin/stdout/stderr; 3 carries
system errors in Docker. The daemon↔monitor link uses the same frames, with
stream 3 (CONTROL) holding one JSON message per frame, so one codec serves both.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

STDIN = 0
STDOUT = 1
STDERR = 2
CONTROL = 3  # "systemerr" in Docker's attach streams

_HEADER = struct.Struct(">BxxxI")
HEADER_SIZE = _HEADER.size
MAX_FRAME = 1 << 20


def encode(stream: int, data: bytes) -> bytes:
    """One frame; empty data gives an empty frame (Docker never sends those, so avoid)."""
    return _HEADER.pack(stream, len(data)) + data


class Frame:
    """One frame. A plain slotted class: `dataclasses` costs ~20 ms of import on
    every CLI and monitor start, which this module is on the path of."""

    __slots__ = ("stream", "data")

    def __init__(self, stream: int, data: bytes) -> None:
        self.stream = stream
        self.data = data

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Frame) and (self.stream, self.data) == (other.stream, other.data)

    def __repr__(self) -> str:
        return f"Frame(stream={self.stream}, data={self.data!r})"


class FrameDecoder:
    """Bytes in, frames out. Feed arbitrary chunks; iterate over complete frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def __iter__(self) -> Iterator[Frame]:
        while len(self._buf) >= HEADER_SIZE:
            stream, size = _HEADER.unpack_from(self._buf)
            if stream > CONTROL:
                raise ValueError(f"invalid stream id {stream} in multiplexed stream")
            end = HEADER_SIZE + size
            if len(self._buf) < end:
                return
            data = bytes(self._buf[HEADER_SIZE:end])
            del self._buf[:end]
            yield Frame(stream, data)

    @property
    def pending(self) -> int:
        return len(self._buf)
