from __future__ import annotations

import pytest

from dockyard.monitor import jsonlog, protocol
from dockyard.proto import stdcopy


def test_frames_round_trip_in_pieces() -> None:
    data = (
        stdcopy.encode(1, b"hello\n") + protocol.control({"op": "start"}) + stdcopy.encode(2, b"e")
    )
    dec = stdcopy.FrameDecoder()
    frames = []
    for i in range(len(data)):
        dec.feed(data[i : i + 1])
        frames.extend(dec)
    assert [(f.stream, f.data) for f in frames] == [
        (1, b"hello\n"),
        (3, b'{"op":"start"}'),
        (2, b"e"),
    ]
    assert protocol.parse_control(frames[1].data) == {"op": "start"}


def test_bad_stream_id_rejected() -> None:
    dec = stdcopy.FrameDecoder()
    dec.feed(b"\x09\x00\x00\x00\x00\x00\x00\x01x")
    with pytest.raises(ValueError):
        list(dec)


def test_line_splitter_and_entries() -> None:
    s = jsonlog.LineSplitter(max_line=8)
    assert s.feed(b"ab\ncd") == [b"ab\n"]
    assert s.feed(b"efghijkl") == [b"cdefghij"]
    assert s.feed(b"\nx\ny\nzzzzzzzzzz") == [b"kl\nx\ny\n", b"zzzzzzzz"]
    assert s.flush() == b"zz"
    e = jsonlog.entry("stdout", b"hi\n", ns=1_700_000_000_123_456_789)
    assert e == b'{"log":"hi\\n","stream":"stdout","time":"2023-11-14T22:13:20.123456789Z"}\n'


def test_rfc3339_round_trip() -> None:
    ns = 1_700_000_000_123_456_789
    assert jsonlog.parse_rfc3339_nano(jsonlog.rfc3339_nano(ns)) == ns
