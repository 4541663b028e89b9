"""Query-string and body parsing shared by every router: Docker's booleans,
integers and JSON-encoded filters, validated once at the edge."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from dockyard.api.errors import InvalidParameter

_TRUE = {"1", "true", "True", "TRUE", "yes"}
_FALSE = {"", "0", "false", "False", "FALSE", "no"}


def qbool(request: web.Request, name: str, default: bool = False) -> bool:
    raw = request.query.get(name)
    if raw is None:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise InvalidParameter(f"invalid boolean value for {name}: {raw!r}")


def qint(request: web.Request, name: str, default: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidParameter(f"invalid value for {name}: {raw!r}") from None


def qfilters(request: web.Request) -> dict[str, list[str]]:
    """Docker's `filters` JSON: {"key": ["v", ...]} or the legacy {"key": {"v": true}}."""
    raw = request.query.get("filters")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidParameter(f"invalid filter: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidParameter("invalid filter: not an object")
    out: dict[str, list[str]] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out[key] = [k for k, v in value.items() if v]
        elif isinstance(value, list):
            out[key] = [str(v) for v in value]
        else:
            out[key] = [str(value)]
    return out


async def json_body(request: web.Request, default: Any = None) -> Any:
    raw = await request.read()
    if not raw.strip():
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidParameter(f"invalid JSON: {exc}") from None


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data).encode() + b"\n",
        content_type="application/json",
    )
