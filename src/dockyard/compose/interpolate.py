"""Variable interpolation as the Compose Specification defines it (pure, no I/O).

`$VAR`, `${VAR}`; `${VAR:-default}` / `${VAR-default}` (unset-or-empty / unset);
`${VAR:?err}` / `${VAR?err}` fail with `err`; `${VAR:+alt}` / `${VAR+alt}` substitute
`alt` when set; `$$` is a literal `$`. Defaults and alternatives are interpolated
themselves, so `${A:-${B}}` nests. Only string values are interpolated, never keys.
An unset variable without a default becomes "" and is reported to `warn` once.
"""

from __future__ import annotations

import re

from dockyard.compose.errors import InterpolationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")


def _find_close(text: str, start: int) -> int:
    """The index of the `}` closing a `${` whose body starts at `start` (nesting allowed)."""
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("$$", i):
            i += 2
            continue
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def substitute(
    text: str,
    env: Mapping[str, str],
    warn: Callable[[str], None] | None = None,
) -> str:
    """`text` with every substitution resolved against `env`."""
    out: list[str] = []
    i = 0
    while i < len(text):
        dollar = text.find("$", i)
        if dollar < 0:
            out.append(text[i:])
            break
        out.append(text[i:dollar])
        nxt = text[dollar + 1 : dollar + 2]
        if nxt == "$":
            out.append("$")
            i = dollar + 2
        elif nxt == "{":
            end = _find_close(text, dollar + 2)
            if end < 0:
                raise InterpolationError(f"Invalid template: {text!r}")
            out.append(_braced(text[dollar + 2 : end], text, env, warn))
            i = end + 1
        else:
            m = _NAME.match(text, dollar + 1)
            if m is None:
                # a lone `$` before a non-name is kept, as compose-go does
                out.append("$")
                i = dollar + 1
                continue
            out.append(_lookup(m.group(), env, warn))
            i = m.end()
    return "".join(out)


def _lookup(name: str, env: Mapping[str, str], warn: Callable[[str], None] | None) -> str:
    if name in env:
        return env[name]
    if warn is not None:
        warn(f'The "{name}" variable is not set. Defaulting to a blank string.')
    return ""


def _braced(
    body: str, whole: str, env: Mapping[str, str], warn: Callable[[str], None] | None
) -> str:
    m = _NAME.match(body)
    if m is None:
        raise InterpolationError(f"Invalid template: {whole!r}")
    name, rest = m.group(), body[m.end() :]
    if not rest:
        return _lookup(name, env, warn)
    colon = rest.startswith(":")
    op_rest = rest[1:] if colon else rest
    op, arg = op_rest[:1], op_rest[1:]
    if op not in ("-", "?", "+"):
        raise InterpolationError(f"Invalid template: {whole!r}")
    value = env.get(name)
    present = value is not None and (value != "" or not colon)
    if op == "-":
        return value if present else substitute(arg, env, warn)  # type: ignore[return-value]
    if op == "+":
        return substitute(arg, env, warn) if present else ""
    if not present:
        raise InterpolationError(
            f"required variable {name} is missing a value: {substitute(arg, env, warn)}"
            if arg
            else f"required variable {name} is missing a value"
        )
    return value  # type: ignore[return-value]


def interpolate(
    value: Any,
    env: Mapping[str, str],
    warn: Callable[[str], None] | None = None,
    path: str = "",
) -> Any:
    """Every string leaf of a YAML tree interpolated; `path` names the key in errors."""
    if isinstance(value, str):
        try:
            return substitute(value, env, warn)
        except InterpolationError as e:
            raise InterpolationError(f"error while interpolating {path}: {e}") from None
    if isinstance(value, dict):
        return {
            k: interpolate(v, env, warn, f"{path}.{k}" if path else str(k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [interpolate(v, env, warn, f"{path}.[{i}]") for i, v in enumerate(value)]
    return value
