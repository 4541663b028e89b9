"""JSON text in and out for the runtime, without importing :mod:`json`.

``import json`` pulls in :mod:`re` and :mod:`enum` (~15 ms measured, half of
runc's whole ``run``), so this module drives the C scanner of ``_json``
directly and writes JSON with a few lines of its own. Output matches
``json.dumps(separators=(",", ":"))`` and Go's ``json.MarshalIndent(v, "", "  ")``.
"""

from __future__ import annotations

import _json

__all__ = ["JSONError", "dumps", "loads"]


class JSONError(ValueError):
    """The text is not one JSON value."""


class _ScanContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo: dict = {}


_scan = _json.make_scanner(_ScanContext())
_WHITESPACE = " \t\n\r"


def loads(text: str | bytes) -> object:
    """Parse one JSON value (surrounding whitespace allowed)."""
    if isinstance(text, bytes):
        text = text.decode()
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as e:
        raise JSONError(f"invalid JSON at offset {e.value}") from None
    except ValueError as e:
        raise JSONError(str(e)) from None
    if text[end:].strip(_WHITESPACE):
        raise JSONError(f"extra data at offset {end}")
    return value


def dumps(value: object, indent: int | None = None) -> str:
    """Serialize ``value``; with ``indent``, one member per line like Go's MarshalIndent."""
    out: list[str] = []
    _write(value, out, indent, 0)
    return "".join(out)


def _write(value: object, out: list[str], indent: int | None, level: int) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_json.encode_basestring(value))
    elif isinstance(value, int | float):
        out.append(repr(int(value)) if isinstance(value, int) else float.__repr__(value))
    elif isinstance(value, dict):
        _write_container("{", "}", list(value.items()), out, indent, level, keyed=True)
    elif isinstance(value, list | tuple):
        _write_container("[", "]", [(None, v) for v in value], out, indent, level, keyed=False)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _write_container(
    open_: str, close: str, items: list, out: list[str], indent: int | None, level: int, keyed: bool
) -> None:
    if not items:
        out.append(open_ + close)
        return
    out.append(open_)
    inner = "\n" + " " * (indent * (level + 1)) if indent else ""
    for i, (key, item) in enumerate(items):
        if i:
            out.append(",")
        out.append(inner)
        if keyed:
            if not isinstance(key, str):
                raise TypeError("JSON object keys must be strings")
            out.append(_json.encode_basestring(key))
            out.append(": " if indent else ":")
        _write(item, out, indent, level + 1)
    if indent:
        out.append("\n" + " " * (indent * level))
    out.append(close)
