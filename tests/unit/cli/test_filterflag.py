"""`--filter` values are checked as the flag is parsed, as docker's FilterOpt does, on
every command that takes one (before, `volume prune` and `network prune` ended in a
ValueError traceback, the others printed their own wording after parsing)."""

from __future__ import annotations

import importlib

import pytest

from dockyard.cli.filterflag import parse_filters
from dockyard.cli.flags import UsageError, parse
from dockyard.cli.main import _MODULES as COMMAND_MODULES


def _commands_with_a_filter() -> list[tuple[str, object]]:
    out = []
    for key, module in sorted(COMMAND_MODULES.items()):
        command = importlib.import_module(f"dockyard.cli.{module}").COMMANDS[key][0]
        if any(f.long == "filter" for f in command.flags):
            out.append((key, command))
    return out


FILTERED = _commands_with_a_filter()


def test_the_listing_and_prune_commands_are_all_here() -> None:
    names = {k for k, _ in FILTERED}
    assert {"ps", "images", "volume ls", "volume prune", "network prune"} <= names


@pytest.mark.parametrize(("key", "command"), FILTERED, ids=[k for k, _ in FILTERED])
def test_a_value_without_equals_is_a_usage_error(key: str, command: object) -> None:
    flag = next(f for f in command.flags if f.long == "filter")  # type: ignore[attr-defined]
    name = f"-{flag.short}, --filter" if flag.short else "--filter"  # as pflag names it
    with pytest.raises(UsageError) as e:
        parse(command, ["--filter", "bad"])  # type: ignore[arg-type]
    assert e.value.message == (
        f'invalid argument "bad" for "{name}" flag: bad format of filter (expected name=value)'
    )


def test_values_are_trimmed_and_empty_ones_ignored() -> None:
    # docker's filters.ParseFlag: name lower-cased and trimmed, value trimmed, "" skipped
    assert parse_filters([" Label = a=b ", ""]) == '{"label": {"a=b": true}}'
