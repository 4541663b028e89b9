"""Interpolation as interpolation.md specifies it; every row from the spec's text."""

from __future__ import annotations

import pytest

from dockyard.compose.errors import InterpolationError
from dockyard.compose.interpolate import interpolate, substitute

ENV = {"SET": "value", "EMPTY": ""}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$SET", "value"),
        ("${SET}", "value"),
        ("pre-${SET}-post", "pre-value-post"),
        ("${UNSET:-default}", "default"),
        ("${EMPTY:-default}", "default"),
        ("${UNSET-default}", "default"),
        ("${EMPTY-default}", ""),
        ("${SET:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${UNSET:-${SET}}", "value"),
        ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
        ("$$SET", "$SET"),
        ("$${SET}", "${SET}"),
        ("cost: 5$", "cost: 5$"),
        ("${UNSET}", ""),
    ],
)
def test_substitute(template: str, expected: str) -> None:
    assert substitute(template, ENV) == expected


def test_required_variables() -> None:
    with pytest.raises(
        InterpolationError, match="required variable UNSET is missing a value: oops"
    ):
        substitute("${UNSET:?oops}", ENV)
    with pytest.raises(InterpolationError, match="required variable EMPTY is missing a value"):
        substitute("${EMPTY:?}", ENV)
    assert substitute("${EMPTY?oops}", ENV) == ""


def test_unset_is_warned_once_per_use_and_blank() -> None:
    warnings: list[str] = []
    assert substitute("${NOPE}", ENV, warnings.append) == ""
    assert warnings == ['The "NOPE" variable is not set. Defaulting to a blank string.']


def test_values_only_not_keys_nor_numbers() -> None:
    tree = {"$SET": ["${SET}", 3, True, None], "k": {"n": "${SET:-x}"}}
    assert interpolate(tree, ENV) == {"$SET": ["value", 3, True, None], "k": {"n": "value"}}


def test_malformed_template_names_the_key() -> None:
    with pytest.raises(InterpolationError, match=r"services\.a\.image"):
        interpolate({"services": {"a": {"image": "${BAD"}}}, ENV)
