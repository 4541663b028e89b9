"""Go durations and Docker's time values, the one home for each.

- `go_duration`: time.ParseDuration (`1h30m`, `1.5s`, `-5ms`), in nanoseconds.
- `get_timestamp` / `parse_timestamps`: moby's api/types/time (timetypes), which
  both the docker CLI (`--since`/`--until`) and dockerd (prune's `until` filter)
  use: a Go duration before now, RFC 3339 with or without a zone (`Z`, `+01:00`),
  a bare date (`2024-01-01`, in local time), or unix seconds (`1700000000.5`).
  `filter_time` is the two together, as dockerd reads an `until`/`since` filter.
- `rfc3339_nano` (Go's time.RFC3339Nano, trailing zeros trimmed: what dockerd's
  JSON times are) and `rfc3339_nano_fixed` (always nine digits: moby's
  RFC3339NanoFixed, what the json-file log writes), and the fast inverse.
Pure apart from reading the clock and the local zone; `re` is imported on use so
the CLI's start-up goes without it.
"""

from __future__ import annotations

import calendar
import time

__all__ = [
    "go_duration",
    "get_timestamp",
    "parse_timestamps",
    "filter_time",
    "rfc3339_nano",
    "rfc3339_nano_fixed",
    "parse_rfc3339_nano",
]

_DURATION_PART = r"([0-9]*)(\.[0-9]*)?([a-zµμ]*)"
_DURATION_UNITS = {"ns": 1, "us": 1000, "µs": 1000, "μs": 1000, "ms": 10**6, "s": 10**9}
_DURATION_UNITS |= {"m": 60 * 10**9, "h": 3600 * 10**9}
_ZONE = r"(Z|[+-]\d{2}:\d{2})"


def go_duration(text: str) -> int:
    """time.ParseDuration, in nanoseconds."""
    import re

    quoted = '"' + text + '"'
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0
    if not body:
        raise ValueError(f"time: invalid duration {quoted}")
    total, pos = 0, 0
    part = re.compile(_DURATION_PART)
    while pos < len(body):
        match = part.match(body, pos)
        assert match is not None  # every group may be empty
        whole, frac, unit = match.group(1), match.group(2) or "", match.group(3)
        if not (whole or frac[1:]):
            raise ValueError(f"time: invalid duration {quoted}")
        if not unit:
            raise ValueError(f"time: missing unit in duration {quoted}")
        if unit not in _DURATION_UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration {quoted}')
        scale = _DURATION_UNITS[unit]
        total += int(whole or 0) * scale
        if frac[1:]:
            total += int(frac[1:]) * scale // 10 ** len(frac[1:])
        pos = match.end()
    return -total if text.startswith("-") else total


def go_duration_string(ns: int) -> str:
    """time.Duration.String: "1m30s", "1h0m0s", "1.5s", "500ms", "0s"."""
    if ns == 0:
        return "0s"
    sign, u = ("-" if ns < 0 else ""), abs(ns)

    def fixed(value: int, digits: int) -> str:  # value / 10**digits, trailing zeros dropped
        whole, frac = divmod(value, 10**digits)
        return f"{whole}.{frac:0{digits}d}".rstrip("0").rstrip(".") if frac else str(whole)

    if u < 1000:
        return f"{sign}{u}ns"
    if u < 10**6:
        return f"{sign}{fixed(u, 3)}µs"
    if u < 10**9:
        return f"{sign}{fixed(u, 6)}ms"
    text = fixed(u % (60 * 10**9), 9) + "s"
    minutes = u // (60 * 10**9)
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes >= 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def _layout(value: str, in_location: bool) -> str:
    """The regular expression of the Go layout GetTimestamp picks for `value`."""
    zone = "" if in_location else _ZONE
    date = r"(\d{4})-(\d{2})-(\d{2})"
    if "." in value:
        return date + r"T(\d{2}):(\d{2}):(\d{2})\.(\d+)" + zone
    if "T" in value:
        colons = value.count(":")
        if not in_location and "z" not in value.lower() and colons > 0:
            colons -= 1  # the zone offset's own colon
        clock = (r"T(\d{2})()()", r"T(\d{2}):(\d{2})()", r"T(\d{2}):(\d{2}):(\d{2})")
        return date + clock[min(colons, 2)] + "()" + zone
    return date + "()()()()" + zone


def _parse_time(value: str, reference: float) -> tuple[int, int] | None:
    """(seconds, nanoseconds) of a Go-layout time, or None when it does not parse."""
    import re

    in_location = not any(c in value for c in "zZ+") and value.count("-") != 3
    match = re.fullmatch(_layout(value, in_location), value)
    if match is None:
        return None
    groups = match.groups()
    year, month, day, hour, minute, second = (int(g or 0) for g in groups[:6])
    frac = groups[6] or ""
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if in_location:  # time.FixedZone(reference.Zone()): the local offset now
        seconds -= time.localtime(reference).tm_gmtoff
    elif groups[7] != "Z":
        zone = groups[7]
        offset = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
        seconds -= offset if zone[0] == "+" else -offset
    return seconds, int((frac + "000000000")[:9])


def parse_timestamps(value: str, default_seconds: int = 0) -> tuple[int, int]:
    """timetypes.ParseTimestamps: `sec[.nanos]` as (seconds, nanoseconds)."""
    if not value:
        return default_seconds, 0
    sec, dot, nano = value.partition(".")
    try:
        seconds = _go_int(sec)
        if not dot:
            return seconds, 0
        nanos = _go_int(nano)
    except ValueError:
        raise ValueError(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None
    return seconds, int(nanos * 10.0 ** (9 - len(nano)))


def _go_int(text: str) -> int:
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(text)
    return int(text)


def get_timestamp(value: str, reference: float | None = None) -> str:
    """timetypes.GetTimestamp: `value` as the `sec[.nanos]` string the API takes."""
    reference = time.time() if reference is None else reference
    if value != "0":
        try:
            duration = go_duration(value)
        except ValueError:
            pass
        else:
            return str(int((reference * 10**9 - duration) // 10**9))
    parsed = _parse_time(value, reference)
    if parsed is not None:
        return f"{parsed[0]}.{parsed[1]:09d}"
    if "-" in value:  # an RFC 3339-like time the layout refused
        raise ValueError(f'parsing time "{value}": cannot parse as a time')
    try:
        parse_timestamps(value)
    except ValueError:
        raise ValueError(f'failed to parse value as time or duration: "{value}"') from None
    return value


def filter_time(value: str, reference: float | None = None) -> float:
    """An `until`/`since` filter's time in unix seconds, as dockerd reads it
    (GetTimestamp, then ParseTimestamps), except that a duration counts back from
    now to the nanosecond: Go's Unix() drops the fraction, so `until=0s` would
    spare what was made earlier in the same second, a race no caller wants."""
    reference = time.time() if reference is None else reference
    if value != "0":
        try:
            return reference - go_duration(value) / 1e9
        except ValueError:
            pass
    seconds, nanos = parse_timestamps(get_timestamp(value, reference))
    return seconds + nanos / 1e9


def rfc3339_nano(ns: int | None = None) -> str:
    """Go's time.RFC3339Nano in UTC (trailing zeros of the fraction trimmed)."""
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    out = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if frac:
        out += "." + f"{frac:09d}".rstrip("0")
    return out + "Z"


def rfc3339_nano_fixed(ns: int | None = None) -> str:
    """moby's RFC3339NanoFixed in UTC: always nine digits of fraction."""
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def parse_rfc3339_nano(value: str) -> int:
    """Inverse of either form above for the UTC 'Z' form, in ns.
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
