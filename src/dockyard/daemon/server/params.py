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
_FALSE = {"", "0", "no", "false", "none"}
_GO_PARSE_BOOL = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
                  "0": False, "f": False, "F": False, "FALSE": False, "false": False,
                  "False": False}  # fmt: skip


def qbool(request: web.Request, name: str, default: bool = False) -> bool:
    """dockerd's BoolValue(OrDefault): trimmed and lowercased, "", 0, no, false and none
    are false and anything else is true (no value is refused)."""
    raw = request.query.get(name)
    if raw is None:
        return default
    return raw.strip().lower() not in _FALSE


def qparse_bool(request: web.Request, name: str, default: bool = False) -> bool:
    """Go's strconv.ParseBool, for the few parameters dockerd reads strictly (an
    empty value is the default; anything unknown is a 400)."""
    raw = request.query.get(name, "")
    if raw == "":
        return default
    if raw not in _GO_PARSE_BOOL:
        raise InvalidParameter(
            f'invalid value for {name}: {raw}: strconv.ParseBool: parsing "{raw}": invalid syntax'
        )
    return _GO_PARSE_BOOL[raw]


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
    value = gojson.parse_literal(raw) if raw.strip() else None
    return default if value is None else gojson.decode_value(legacy(value), model)


def json_response(data: Any, status: int = 200) -> web.Response:
    resp = web.Response(
        status=status,
        body=json.dumps(data).encode() + b"\n",
        content_type="application/json",
    )
    resp[ANSWER_KEY] = data
    return resp
