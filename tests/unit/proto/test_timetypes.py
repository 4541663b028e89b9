"""proto.timetypes: Go durations and moby's timetypes, the one home of time filters."""

from __future__ import annotations

import calendar
import time

import pytest

from dockyard.proto.timetypes import (
    filter_time,
    get_timestamp,
    go_duration,
    parse_rfc3339_nano,
    parse_timestamps,
    rfc3339_nano,
    rfc3339_nano_fixed,
)

NOW = 1_700_000_000.25
JAN1 = calendar.timegm((2024, 1, 1, 0, 0, 0, 0, 0, 0))


def test_go_duration() -> None:
    assert go_duration("1m30s") == 90 * 10**9
    assert go_duration("1.5s") == 1_500_000_000
    assert go_duration("1h30m") == 5400 * 10**9
    assert go_duration("-5ms") == -5_000_000
    assert go_duration("0") == 0
    for text, error in (
        ("5", 'time: missing unit in duration "5"'),
        ("5q", 'time: unknown unit "q" in duration "5q"'),
        ("x", 'time: invalid duration "x"'),
    ):
        with pytest.raises(ValueError) as e:
            go_duration(text)
        assert str(e.value) == error


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10m", str(int(NOW) - 600)),  # a duration gives whole seconds, as Go's Unix()
        ("1.5h", str(int(NOW) - 5400)),
        ("1700000000", "1700000000"),  # unix time passes through
        ("1700000000.5", "1700000000.5"),
        ("0", "0"),
        ("2024-01-01T00:00:00Z", f"{JAN1}.000000000"),
        ("2024-01-01T01:00:00+01:00", f"{JAN1}.000000000"),  # the offset is not dropped
        ("2023-12-31T23:00:00-01:00", f"{JAN1}.000000000"),
        ("2024-01-01T00:00:00.5Z", f"{JAN1}.500000000"),
        ("2024-01-01Z", f"{JAN1}.000000000"),
        ("2024-01-01T05Z", f"{JAN1 + 5 * 3600}.000000000"),
        ("2024-01-01T05:30Z", f"{JAN1 + 5 * 3600 + 1800}.000000000"),
    ],
)
def test_get_timestamp(value: str, expected: str) -> None:
    assert get_timestamp(value, NOW) == expected


def test_local_dates_use_the_local_zone() -> None:
    """`2024-01-01` (no zone) is midnight local time, as ParseInLocation."""
    offset = time.localtime(NOW).tm_gmtoff
    assert get_timestamp("2024-01-01", NOW) == f"{JAN1 - offset}.000000000"
    assert get_timestamp("2024-01-01T00:00:00", NOW) == f"{JAN1 - offset}.000000000"


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("yesterday", 'failed to parse value as time or duration: "yesterday"'),
        ("2024-13-01", 'parsing time "2024-13-01"'),
        ("2024-02-30T00:00:00Z", 'parsing time "2024-02-30T00:00:00Z"'),
    ],
)
def test_get_timestamp_errors(value: str, error: str) -> None:
    with pytest.raises(ValueError) as e:
        get_timestamp(value, NOW)
    assert str(e.value).startswith(error)


def test_parse_timestamps() -> None:
    assert parse_timestamps("", 7) == (7, 0)
    assert parse_timestamps("12") == (12, 0)
    assert parse_timestamps("12.5") == (12, 500_000_000)
    assert parse_timestamps("12.000000001") == (12, 1)
    with pytest.raises(ValueError):
        parse_timestamps("12.x")


def test_filter_time_takes_every_form() -> None:
    """container prune refused `until=2024-01-01` that image prune took, and
    `+01:00` offsets were dropped (one hour off): one reader for all now."""
    assert filter_time("2024-01-01T01:00:00+01:00", NOW) == JAN1
    assert filter_time("2024-01-01Z", NOW) == JAN1
    assert filter_time("1700000000.5", NOW) == 1_700_000_000.5
    assert filter_time("10m", NOW) == NOW - 600  # to the nanosecond (see its docstring)
    assert filter_time("0s", NOW) == NOW  # `until=0s` takes everything made before now
    assert filter_time("2024-01-01", NOW) == JAN1 - time.localtime(NOW).tm_gmtoff


def test_rfc3339_nano_forms() -> None:
    ns = JAN1 * 10**9 + 123_400_000
    assert rfc3339_nano(ns) == "2024-01-01T00:00:00.1234Z"
    assert rfc3339_nano(JAN1 * 10**9) == "2024-01-01T00:00:00Z"
    assert rfc3339_nano_fixed(ns) == "2024-01-01T00:00:00.123400000Z"
    for text in (rfc3339_nano(ns), rfc3339_nano_fixed(ns)):
        assert parse_rfc3339_nano(text) == ns
    assert parse_rfc3339_nano(rfc3339_nano(JAN1 * 10**9)) == JAN1 * 10**9
