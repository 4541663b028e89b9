"""The matching rules of list filters (`?filters=`), one home for every list.

dockerd matches `name` (and `id`) with `filters.Args.Match`: an exact match, or the
value as a Go regular expression searched in the field (unanchored, so a plain
substring still matches; `^web$` matches only `web`; an invalid expression matches
nothing). `label=k`, `label=k=v` must all hold and `label!=...` must all fail.
Python's `re` agrees with Go's RE2 on the syntax users write in filters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def match(patterns: Iterable[str], *fields: str) -> bool:
    """True when any pattern matches any of `fields` (e.g. a container's name with
    and without its leading slash), as filters.Args.Match."""
    for pattern in patterns:
        if pattern in fields:
            return True
        try:
            rx = re.compile(pattern)
        except re.error:
            continue
        if any(rx.search(f) for f in fields):
            return True
    return False


def labels_match(labels: dict[str, str], filters: dict[str, list[str]]) -> bool:
    """`label=k`, `label=k=v` must all match; `label!=...` must all not."""

    def hit(expr: str) -> bool:
        k, eq, v = expr.partition("=")
        return k in labels and (not eq or labels[k] == v)

    return all(hit(e) for e in filters.get("label", [])) and not any(
        hit(e) for e in filters.get("label!", [])
    )
