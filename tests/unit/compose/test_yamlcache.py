"""Parsed compose files kept by content: an unchanged text skips PyYAML, an edit never
reads a stale parse, and what marshal cannot hold is not kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.compose import yamlcache, yamlfile
from dockyard.compose.merge import RESET


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("DOCKYARD_COMPOSE_NO_CACHE", raising=False)
    return tmp_path / "dockyard" / "compose"


TEXT = "services:\n  web: &w\n    image: nginx\n    ports: ['80:80']\n  api:\n    <<: *w\n"


def test_second_parse_comes_from_the_cache(cache: Path) -> None:
    first = yamlfile.parse(TEXT, "compose.yaml")
    kept = list(cache.iterdir())
    assert len(kept) == 1
    assert yamlcache.get(TEXT) == first
    # the cached entry is what answers: replace it and the parse follows
    yamlcache.put(TEXT, {"services": {"from": "cache"}})
    assert yamlfile.parse(TEXT, "compose.yaml") == {"services": {"from": "cache"}}


def test_an_edited_text_is_parsed_afresh(cache: Path) -> None:
    yamlfile.parse(TEXT, "compose.yaml")
    edited = TEXT.replace("nginx", "httpd")
    assert yamlfile.parse(edited, "compose.yaml")["services"]["web"]["image"] == "httpd"
    assert len(list(cache.iterdir())) == 2


def test_tags_and_errors_are_not_kept(cache: Path) -> None:
    doc = yamlfile.parse("services:\n  web:\n    ports: !reset []\n", "c.yaml")
    assert doc["services"]["web"]["ports"] is RESET
    with pytest.raises(Exception, match="already defined"):
        yamlfile.parse("a: 1\na: 2\n", "c.yaml")
    assert not cache.exists() or list(cache.iterdir()) == []


def test_an_unwritable_cache_only_costs_time(cache: Path) -> None:
    cache.parent.mkdir(parents=True)
    cache.write_text("not a directory")
    assert yamlfile.parse(TEXT, "compose.yaml")["services"]["api"]["image"] == "nginx"
    os.environ["DOCKYARD_COMPOSE_NO_CACHE"] = "1"
    try:
        assert yamlcache.directory() is None
    finally:
        del os.environ["DOCKYARD_COMPOSE_NO_CACHE"]


def test_old_entries_are_pruned(cache: Path) -> None:
    texts = [f"services:\n  s{i}: {{image: x}}\n" for i in range(6)]
    for i, text in enumerate(texts):
        yamlcache.put(text, {"n": i})
        entry = yamlcache._path(text)
        os.utime(entry, ns=(i * 10**9, i * 10**9))  # written one after another
    yamlcache.prune(str(cache), keep=4)
    assert [yamlcache.get(t) for t in texts] == [yamlcache.MISSING] * 4 + [{"n": 4}, {"n": 5}]
