"""Signal names and numbers as Docker accepts them: `KILL`, `SIGKILL`, `9`."""

from __future__ import annotations

import signal

from dockyard.api.errors import InvalidParameter


def parse_signal(value: str | int | None, default: int = signal.SIGTERM) -> int:
    if value is None or value == "":
        return int(default)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.isdigit():
        num = int(text)
        if not 0 < num < 65:
            raise InvalidParameter(f"Invalid signal: {value}")
        return num
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise InvalidParameter(f"Invalid signal: {value}") from None
