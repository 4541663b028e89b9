"""The json-file writer's rotation and dockerd's log-opt checks, without a daemon."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.api.errors import InvalidParameter, SystemError_
from dockyard.daemon.services import logopts
from dockyard.monitor import jsonlog


def test_max_file_1_starts_over(tmp_path: Path) -> None:
    w = jsonlog.Writer(str(tmp_path / "a.log"), max_size=300, max_file=1)
    for i in range(50):
        w.write("stdout", f"{i}\n".encode())
    w.close()
    assert os.listdir(tmp_path) == ["a.log"]
    assert os.path.getsize(tmp_path / "a.log") <= 300
    assert jsonlog.read_lines(str(tmp_path / "a.log"))[-1].startswith(b'{"log":"49\\n"')


def test_rotated_lists_oldest_first_and_reads_appended_lines(tmp_path: Path) -> None:
    p = str(tmp_path / "a.log")
    w = jsonlog.Writer(p, max_size=200, max_file=4)
    for i in range(40):
        w.write("stderr", f"{i}\n".encode())
    w.close()
    files = jsonlog.rotated(p)
    assert files == [p + ".3", p + ".2", p + ".1", p]
    logs = [line for f in files for line in jsonlog.read_lines(f)]
    numbers = [int(line.split(b'"log":"')[1].split(b"\\n")[0]) for line in logs]
    assert numbers == list(range(40 - len(numbers), 40))
    # a reopened writer continues the current file's size
    w = jsonlog.Writer(p, max_size=200, max_file=4)
    assert w.size == os.path.getsize(p)
    w.close()


def test_sizes_like_go_units() -> None:
    assert logopts.ram_in_bytes("1k") == 1024
    assert logopts.ram_in_bytes("1.5k") == 1536
    assert logopts.ram_in_bytes("2KB") == 2048
    assert logopts.ram_in_bytes("10mb") == 10 << 20
    assert logopts.ram_in_bytes("3") == 3
    for bad in ("abc", "-1", "1x", ""):
        with pytest.raises(ValueError, match="invalid (size|suffix)"):
            logopts.ram_in_bytes(bad)


def test_file_options() -> None:
    cfg = {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "3"}}
    assert logopts.file_options(cfg) == {"max_size": 1 << 20, "max_file": 3, "compress": False}
    # max-file without max-size does nothing, as with dockerd
    assert logopts.file_options({"Config": {"max-file": "3"}})["max_file"] == 1
    with pytest.raises(SystemError_, match="max-file cannot be less than 1"):
        logopts.file_options({"Config": {"max-size": "1k", "max-file": "0"}})
    with pytest.raises(SystemError_, match="compress cannot be true"):
        logopts.file_options({"Config": {"max-size": "1k", "compress": "true"}})


def test_names_checked_at_create() -> None:
    logopts.check_names({"Type": "json-file", "Config": {"max-size": "1k", "tag": "x"}})
    with pytest.raises(InvalidParameter, match="unknown log opt 'foo' for json-file log driver"):
        logopts.check_names({"Type": "json-file", "Config": {"foo": "1"}})
    with pytest.raises(InvalidParameter, match="no log driver named 'gelf'"):
        logopts.check_names({"Type": "gelf"})


def test_rfc3339_round_trip_and_errors() -> None:
    for ns in (0, 1, 1_795_395_144_261_000_000, 1_795_395_144_999_999_999):
        assert jsonlog.parse_rfc3339_nano(jsonlog.rfc3339_nano(ns)) == ns
    assert jsonlog.parse_rfc3339_nano("2026-11-23T00:52:24Z") == 1_795_395_144_000_000_000
    assert jsonlog.parse_rfc3339_nano("2026-11-23T00:52:24.5Z") == 1_795_395_144_500_000_000
    for bad in ("", "yesterday", "2026-11-23"):
        with pytest.raises(ValueError):
            jsonlog.parse_rfc3339_nano(bad)


def _per_line(stream: str, run: bytes, ns: int) -> bytes:
    """The reference: one `entry` (json.dumps) per line."""
    parts = run.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    return b"".join(jsonlog.entry(stream, line, ns) for line in lines)


def test_encode_lines_is_entry_per_line_byte_for_byte() -> None:
    import random

    rng = random.Random(11)
    ns = 1_700_000_000_123_456_789
    alphabet = [bytes([i]) for i in range(128)] + ["é".encode(), "€".encode(), "😀".encode()]
    cases = [
        b"0123456789\n" * 1000,
        b'say "hi" \\ back\ttab\r\n\x00\x1f\x7f end\n',
        b"no newline at the end",
        b"\n\n\n",
        "unicode é ü € \u2028\n".encode(),
        b"bad utf-8 \xff\xfe here\nand \xc3 cut\n",
    ]
    for _ in range(200):
        n = rng.randrange(1, 300)
        run = b"".join(rng.choice(alphabet + [b"\n"] * 20) for _ in range(n))
        if rng.random() < 0.2:
            run += bytes([rng.randrange(128, 256)])  # invalid UTF-8 sometimes
        cases.append(run)
    for run in cases:
        for stream in ("stdout", "stderr"):
            assert jsonlog.encode_lines(stream, run, ns) == _per_line(stream, run, ns), run


def test_write_run_rotates_inside_a_run(tmp_path: Path) -> None:
    p = str(tmp_path / "a.log")
    w = jsonlog.Writer(p, max_size=300, max_file=3)
    w.write_run("stdout", b"".join(f"{i}\n".encode() for i in range(40)))
    w.close()
    logs = [line for f in jsonlog.rotated(p) for line in jsonlog.read_lines(f)]
    assert all(os.path.getsize(f) <= 300 for f in jsonlog.rotated(p))
    numbers = [int(line.split(b'"log":"')[1].split(b"\\n")[0]) for line in logs]
    assert numbers == list(range(40 - len(numbers), 40)) and len(numbers) > 6


def test_mode_and_max_buffer_size_are_every_drivers_as_dockerd_has_them() -> None:
    ok = {"mode": "non-blocking", "max-buffer-size": "4m", "max-size": "1m"}
    logopts.check_names({"Type": "json-file", "Config": ok})
    logopts.check_names({"Type": "local", "Config": {"mode": "blocking"}})
    with pytest.raises(InvalidParameter, match="logging mode not supported: fast"):
        logopts.check_names({"Type": "json-file", "Config": {"mode": "fast"}})
    with pytest.raises(InvalidParameter, match="only supported with 'mode=non-blocking'"):
        logopts.check_names({"Type": "json-file", "Config": {"max-buffer-size": "1m"}})
    with pytest.raises(InvalidParameter, match="error parsing option max-buffer-size"):
        logopts.check_names(
            {"Type": "json-file", "Config": {"mode": "non-blocking", "max-buffer-size": "x"}}
        )
