"""`--filter name=value`, shared by every listing and prune command: each value is
checked as the flag is parsed (docker's opts.FilterOpt: a value without `=` is a
usage error), and the values become the JSON filters docker's CLI sends
(filters.ParseFlag: the name lower-cased and trimmed, the value trimmed, an empty
value skipped)."""

from __future__ import annotations

from dockyard.cli.flags import LIST, Flag

BAD_FORMAT = "bad format of filter (expected name=value)"


def filter_value(value: str) -> str:
    """One `--filter` value, as pflag sets it (a ValueError is worded as pflag's)."""
    if value and "=" not in value:
        raise ValueError(BAD_FORMAT)
    return value


def filter_flag(help: str, short: str = "f") -> Flag:
    """The `--filter` flag of a listing or prune command."""
    return Flag("filter", short, LIST, help, metavar="filter", convert=filter_value)


def parse_filters(items: list[str]) -> str | None:
    """`-f status=exited -f name=x` -> the JSON filters docker sends."""
    import json

    filters: dict[str, dict[str, bool]] = {}
    for item in items:
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{BAD_FORMAT}: {item}")
        filters.setdefault(key.strip().lower(), {})[value.strip()] = True
    return json.dumps(filters) if filters else None
