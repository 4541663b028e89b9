"""Docker's JSON progress messages (jsonmessage), pure: what `docker pull` and
`docker push` render as per-layer progress bars."""

from __future__ import annotations

import json
from typing import Any

from dockyard.proto.units import human_size


def short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def bar(current: int, total: int, width: int = 50) -> str:
    if total <= 0:
        return ""
    pct = min(current, total) * width // total
    arrow = ">" if pct < width else ""
    return f"[{'=' * (pct - 1 if arrow and pct else pct)}{arrow}{' ' * (width - pct)}] {human_size(current)}/{human_size(total)}"


def status(msg: str, ident: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"status": msg}
    if ident:
        out["id"] = ident
    return out


def progress(msg: str, ident: str, current: int, total: int) -> dict[str, Any]:
    return {
        "status": msg,
        "progressDetail": {"current": current, "total": total},
        "progress": bar(current, total),
        "id": ident,
    }


def error(message: str) -> dict[str, Any]:
    return {"errorDetail": {"message": message}, "error": message}


def encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode() + b"\r\n"
