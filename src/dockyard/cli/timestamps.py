"""docker's timetypes.GetTimestamp for --since/--until (pure apart from the clock).

`10m`, `1h30m`, `1.5h` are relative to now; RFC 3339 dates become unix time;
anything numeric passes through as docker does.
"""

from __future__ import annotations

import calendar
import re
import time

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_duration(text: str) -> float | None:
    """Go's time.ParseDuration, in seconds; None if `text` is not a duration."""
    if not text or text == "0":
        return 0.0 if text == "0" else None
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    pos, total = 0, 0.0
    while pos < len(body):
        match = _DURATION.match(body, pos)
        if not match:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return sign * total if body else None


def get_timestamp(value: str, now: float | None = None) -> str:
    now = time.time() if now is None else now
    duration = parse_duration(value)
    if duration is not None:
        t = now - duration
        return f"{int(t)}.{int(round((t - int(t)) * 1e9)):09d}"
    match = _DATE.match(value)
    if match:
        year, month, day, hour, minute, second, frac, zone = match.groups()
        fields = (int(year), int(month), int(day), int(hour or 0), int(minute or 0))
        fields += (int(second or 0),)
        if not zone:  # local time, as Go's ParseInLocation(..., time.Local)
            seconds = int(time.mktime(fields + (0, 0, -1)))
        else:
            seconds = calendar.timegm(fields)
            if zone != "Z":
                offset = int(zone[1:3]) * 3600 + int(zone[-2:]) * 60
                seconds -= offset if zone[0] == "+" else -offset
        return f"{seconds}.{(frac or '').ljust(9, '0')}"
    return value
