"""Sans-I/O decoders for the streams the Engine API sends.

`JSONStreamDecoder`: bytes in, JSON values out, for the progress streams of
pull/import/push and the events stream (values separated by any whitespace,
as Go's json.Decoder accepts). Multiplexed stdout/stderr frames are decoded by
`dockyard.proto.stdcopy.FrameDecoder`; `demux` routes them by stream.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from dockyard.proto.stdcopy import FrameDecoder

_WHITESPACE = b" \t\r\n"


class JSONStreamDecoder:
    def __init__(self) -> None:
        self._buf = ""
        self._pending = b""
        self._decoder = json.JSONDecoder()

    def feed(self, data: bytes) -> None:
        data = self._pending + data
        try:
            self._buf += data.decode()
            self._pending = b""
        except UnicodeDecodeError as e:  # a multi-byte character split across chunks
            self._buf += data[: e.start].decode()
            self._pending = data[e.start :]

    def __iter__(self) -> Iterator[object]:
        while True:
            text = self._buf.lstrip(" \t\r\n")
            if not text:
                self._buf = ""
                return
            try:
                value, end = self._decoder.raw_decode(text)
            except json.JSONDecodeError:
                self._buf = text
                return  # incomplete; wait for more bytes
            self._buf = text[end:]
            yield value


def demux(
    decoder: FrameDecoder,
    data: bytes,
    stdout: Callable[[bytes], object],
    stderr: Callable[[bytes], object],
) -> None:
    """Feed `data`; write each complete frame's payload to its stream.

    Stream 3 ("systemerr") goes to stderr, as docker's stdcopy turns it into an error.
    """
    from dockyard.proto.stdcopy import CONTROL, STDERR, STDOUT

    decoder.feed(data)
    for frame in decoder:
        if frame.stream == STDOUT:
            stdout(frame.data)
        elif frame.stream in (STDERR, CONTROL):
            stderr(frame.data)
