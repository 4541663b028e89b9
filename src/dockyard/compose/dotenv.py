"""`.env` and `env_file` files: the dotenv format Compose v2 reads (pure parsing + one read).

`KEY=VALUE` lines; `export ` prefixes; `#` comments (inline only after whitespace in
unquoted values); single quotes are literal; double quotes honour `\\n`, `\\t`, `\\"`,
`\\\\` and interpolate; unquoted values interpolate; a line `KEY` alone takes KEY from
the environment (or is left out, as compose-go does). Values may reference variables
defined earlier in the same file, or the lookup environment.
"""

from __future__ import annotations

import re

from dockyard.compose.errors import ComposeError
from dockyard.compose.interpolate import substitute

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "\\$"}


def parse(
    text: str, lookup: Mapping[str, str] | None = None, source: str = ".env"
) -> dict[str, str]:
    env: dict[str, str] = {}
    lookup = lookup or {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[7:].lstrip()
        m = _KEY.match(line)
        if m is None:
            raise ComposeError(
                f"failed to read {source}: line {i}: unexpected character {line[:1]!r}"
            )
        key, rest = m.group(), line[m.end() :].lstrip()
        if not rest:
            if key in lookup:
                env[key] = lookup[key]
            continue
        if rest[0] not in "=:":
            raise ComposeError(
                f"failed to read {source}: line {i}: unexpected character {rest[0]!r} in variable name {key!r}"
            )
        value = rest[1:].lstrip()
        scope = {**lookup, **env}
        if value[:1] in ("'", '"'):
            quote = value[0]
            body = value[1:]
            # a quoted value may span lines until its closing quote
            while _closing(body, quote) < 0 and i < len(lines):
                body += "\n" + lines[i]
                i += 1
            end = _closing(body, quote)
            if end < 0:
                raise ComposeError(f"failed to read {source}: line {i}: unterminated quoted value")
            body = body[:end]
            if quote == "'":
                env[key] = body
            else:
                unescaped = re.sub(
                    r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body
                )
                env[key] = substitute(unescaped.replace("\\$", "$$"), scope)
        else:
            comment = re.search(r"\s#", value)
            if comment:
                value = value[: comment.start()]
            env[key] = substitute(value.strip(), scope)
    return env


def _closing(body: str, quote: str) -> int:
    j = 0
    while j < len(body):
        if body[j] == "\\" and quote == '"':
            j += 2
            continue
        if body[j] == quote:
            return j
        j += 1
    return -1


def read(path: str, lookup: Mapping[str, str] | None = None) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ComposeError(
            f"env file {path} not found: stat {path}: no such file or directory"
        ) from None
    except OSError as e:
        raise ComposeError(f"failed to read {path}: {e.strerror}") from None
    return parse(text, lookup, path)
