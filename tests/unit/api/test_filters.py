"""api.filters: dockerd's filters.Args.Match and label rules."""

from __future__ import annotations

from dockyard.api.filters import labels_match, match


def test_match_is_exact_or_an_unanchored_regular_expression() -> None:
    assert match(["^web$"], "web")
    assert not match(["^web$"], "web-2")
    assert match(["web"], "myweb-2")
    assert match(["^/web$"], "/web", "web")
    assert match(["a[0-9]+"], "xa12")
    assert not match(["a[0-9]+"], "ab")
    assert match(["we(b"], "we(b")  # invalid as an expression: only an exact match
    assert not match(["we(b"], "we(bx")
    assert not match([], "web")


def test_labels_match() -> None:
    labels = {"a": "1", "b": ""}
    assert labels_match(labels, {"label": ["a", "a=1", "b="]})
    assert not labels_match(labels, {"label": ["a=2"]})
    assert not labels_match(labels, {"label!": ["a"]})
    assert labels_match(labels, {"label!": ["c", "a=2"]})
