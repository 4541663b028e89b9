"""JSON as Go's encoding/json writes it, for what Compose v2 prints or hashes.

Compact, UTF-8 kept, and <, >, &, U+2028, U+2029 escaped (Go's default HTML-safe
escaping): `--progress json` lines and the config hash's input.
"""

from __future__ import annotations

import json

_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
            ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))  # fmt: skip


def go_json(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in _ESCAPES:
        text = text.replace(ch, esc)
    return text
