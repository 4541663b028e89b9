"""What `up` does to one service's containers, decided from what exists (pure).

For numbers 1..scale: create the missing, recreate those whose config hash or image
changed (or all with `--force-recreate`; none with `--no-recreate`), start the rest;
containers numbered above the scale are removed, highest first, as Compose v2 does.
"""

from __future__ import annotations

from dockyard.compose import labels
from dockyard.compose.model import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CREATE, RECREATE, START, KEEP, REMOVE = "create", "recreate", "start", "keep", "remove"


class Action(Record):
    __slots__ = ("kind", "number", "container")
    _fields = __slots__
    kind: str
    number: int
    container: dict[str, Any] | None  # the existing container (GET /containers/json entry)

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {"container": lambda: None}


def number_of(container: dict[str, Any]) -> int:
    try:
        return int((container.get("Labels") or {}).get(labels.NUMBER, "0"))
    except ValueError:
        return 0


def is_running(container: dict[str, Any]) -> bool:
    return container.get("State") in ("running", "restarting", "paused")


def plan_service(
    existing: list[dict[str, Any]],
    scale: int,
    expected_hash: str,
    image_id: str | None,
    recreate: str = "diverged",  # "diverged" | "force" | "never"
) -> list[Action]:
    by_number: dict[int, dict[str, Any]] = {}
    extra: list[dict[str, Any]] = []
    for c in sorted(existing, key=number_of):
        n = number_of(c)
        if 1 <= n <= scale and n not in by_number:
            by_number[n] = c
        else:
            extra.append(c)
    actions = [Action(REMOVE, number_of(c), c) for c in sorted(extra, key=number_of, reverse=True)]
    for n in range(1, scale + 1):
        c = by_number.get(n)
        if c is None:
            actions.append(Action(CREATE, n))
            continue
        diverged = (c.get("Labels") or {}).get(labels.HASH) != expected_hash or (
            image_id is not None and c.get("ImageID") not in (None, "", image_id)
        )
        if recreate == "force" or (recreate == "diverged" and diverged):
            actions.append(Action(RECREATE, n, c))
        elif is_running(c):
            actions.append(Action(KEEP, n, c))
        else:
            actions.append(Action(START, n, c))
    return actions
