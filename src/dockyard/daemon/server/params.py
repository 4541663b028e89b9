"""Query-string and body parsing shared by every router: Docker's booleans,
integers and JSON-encoded filters, validated once at the edge."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from dockyard.api.errors import InvalidParameter
from dockyard.api.models import Model, gojson

# The data a JSON answer was made from, kept so the server can reshape it for the
# client's API version without parsing the body again.
ANSWER_KEY = web.ResponseKey("answer", object)
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


_GO_INT = re.compile(r"[+-]?[0-9]+\Z")


def qint(request: web.Request, name: str, default: int | None = None) -> int | None:
    """An integer parameter as dockerd's strconv.Atoi reads it (no spaces or `_`),
    in its words."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    quoted = json.dumps(raw, ensure_ascii=False)
    if not _GO_INT.match(raw):
        raise InvalidParameter(f"strconv.Atoi: parsing {quoted}: invalid syntax")
    if len(raw.lstrip("+-")) > 19 or not -(1 << 63) <= int(raw) < 1 << 63:
        raise InvalidParameter(f"strconv.Atoi: parsing {quoted}: value out of range")
    return int(raw)


def qfilters(request: web.Request) -> dict[str, list[str]]:
    """Docker's `filters` JSON, read as dockerd's filters.FromJSON reads it:
    {"key": {"v": true}}, else the legacy {"key": ["v", ...]}; else the first error."""
    raw = request.query.get("filters")
    if not raw:
        return {}
    data = gojson.parse(raw.encode())
    if data is None:
        return {}
    try:
        current = gojson.decode_value(data, dict[str, dict[str, bool]])
    except InvalidParameter as exc:
        try:
            legacy = gojson.decode_value(data, dict[str, list[str]])
        except InvalidParameter:
            raise exc from None
        return {k: list(v) for k, v in legacy.items()}
    return {k: [v for v, on in values.items() if on] for k, values in current.items()}


async def json_body(request: web.Request, default: Any = None) -> Any:
    """A body without a typed model (parsed as Go reads JSON; 400 when malformed)."""
    raw = await request.read()
    if not raw.strip():
        return default
    return gojson.parse(raw)


async def model_body(
    request: web.Request,
    model: type[Model],
    default: Any = None,
    legacy: Callable[[Any], Any] | None = None,
) -> Any:
    """A request body decoded into its Engine API model, once (api/models); `default`
    when the body is empty or `null`. `legacy`, if given, first turns an older API
    version's body into the newest shape (api/versions), before the model checks it."""
    raw = await request.read()
    if legacy is None:
        return gojson.decode(raw, model, default)
    value = gojson.parse(raw) if raw.strip() else None
    return default if value is None else gojson.decode_value(legacy(value), model)


def json_response(data: Any, status: int = 200) -> web.Response:
    resp = web.Response(
        status=status,
        body=json.dumps(data).encode() + b"\n",
        content_type="application/json",
    )
    resp[ANSWER_KEY] = data
    return resp
