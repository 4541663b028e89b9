"""The `until` / `since` time of a list or prune filter (and of logs' `since`/`until`),
one reader for every endpoint: moby's timetypes, as dockerd reads them
(proto.timetypes.filter_time: unix seconds, RFC 3339 with a zone offset, a bare date,
a Go duration before now). A value that parses as none of these is a 400.
"""

from __future__ import annotations

from dockyard.api.errors import InvalidParameter
from dockyard.proto.timetypes import filter_time


def unix_time(value: str) -> float:
    """`value` in unix seconds, or InvalidParameter with Go's wording."""
    try:
        return filter_time(value)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
