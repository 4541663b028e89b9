"""Sans-I/O stream decoders: JSON progress messages and multiplexed frames."""

from __future__ import annotations

from dockyard.client.streams import JSONStreamDecoder, demux
from dockyard.proto.stdcopy import STDERR, STDOUT, FrameDecoder, encode


def test_json_stream_split_anywhere() -> None:
    data = '{"status":"a"}\r\n{"status":"é","id":"x"}\r\n{"aux":{"ID":"sha256:1"}}\n'.encode()
    for cut in range(len(data) + 1):
        decoder = JSONStreamDecoder()
        got = []
        for part in (data[:cut], data[cut:]):
            decoder.feed(part)
            got += list(decoder)
        assert got == [{"status": "a"}, {"status": "é", "id": "x"}, {"aux": {"ID": "sha256:1"}}]


def test_json_stream_concatenated_without_newlines() -> None:
    decoder = JSONStreamDecoder()
    decoder.feed(b'{"a":1}{"b":2}')
    assert list(decoder) == [{"a": 1}, {"b": 2}]


def test_demux_routes_frames_across_chunk_boundaries() -> None:
    stream = encode(STDOUT, b"out\n") + encode(STDERR, b"err\n") + encode(STDOUT, b"more")
    out: list[bytes] = []
    err: list[bytes] = []
    decoder = FrameDecoder()
    for i in range(0, len(stream), 3):
        demux(decoder, stream[i : i + 3], out.append, err.append)
    assert b"".join(out) == b"out\nmore"
    assert b"".join(err) == b"err\n"
