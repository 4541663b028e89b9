"""`--since` / `--until` as the API takes them (logs, events, compose logs).

The docker CLI turns each with timetypes.GetTimestamp (proto.timetypes) and words a
refusal `invalid value for "since": ...`; a ClientError, so it prints as docker's.
"""

from __future__ import annotations

from typing import Any

from dockyard.client.errors import ClientError
from dockyard.proto.timetypes import get_timestamp


def since_until(opts: dict[str, Any]) -> dict[str, str | None]:
    """{"since": ..., "until": ...}, None where the flag is not given."""
    out: dict[str, str | None] = {}
    for key in ("since", "until"):
        try:
            out[key] = get_timestamp(opts[key]) if opts.get(key) else None
        except ValueError as exc:
            raise ClientError(f'invalid value for "{key}": {exc}') from None
    return out
