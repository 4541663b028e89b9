"""The registry StorageDriver contract, run against every implementation
(filesystem, in-memory): atomic put, streamed read from an offset, append,
size, list, move, delete, walk, and paths kept inside the root."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.registry.server.driver import (
    FilesystemDriver,
    InMemoryDriver,
    PathNotFound,
    StorageDriver,
)


@pytest.fixture(params=["filesystem", "memory"])
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> StorageDriver:
    if request.param == "memory":
        return InMemoryDriver()
    return FilesystemDriver(str(tmp_path / "root"))


def test_put_get_move_delete(driver: StorageDriver) -> None:
    d = driver
    d.put_content("/a/b/c", b"one")
    d.put_content("/a/b/c", b"two")
    assert d.get_content("/a/b/c") == b"two"
    assert d.size("/a/b/c") == 3 and d.size("/nope") is None
    assert d.list("/a/b") == ["c"]  # no temp files left behind
    d.move("/a/b/c", "/x/y")
    assert d.get_content("/x/y") == b"two"
    with pytest.raises(PathNotFound):
        d.get_content("/a/b/c")
    d.delete("/x")
    with pytest.raises(PathNotFound):
        d.delete("/x")
    assert sorted(d.walk_files("/")) == []


def test_paths_stay_inside_the_root(driver: StorageDriver) -> None:
    with pytest.raises(ValueError):
        driver.get_content("/../etc/passwd")


def test_append_then_read_from_an_offset(driver: StorageDriver) -> None:
    with driver.appender("/up/data") as f:
        f.write(b"hello ")
    with driver.appender("/up/data") as f:  # a resumed upload appends
        f.write(b"world")
    assert driver.size("/up/data") == 11
    with driver.reader("/up/data", 6) as f:
        assert f.read() == b"world"
    with pytest.raises(PathNotFound):
        driver.reader("/up/none")


def test_walk_and_list(driver: StorageDriver) -> None:
    for path in ("/r/a/1", "/r/a/2", "/r/b/3"):
        driver.put_content(path, path.encode())
    assert sorted(driver.walk_files("/r")) == ["/r/a/1", "/r/a/2", "/r/b/3"]
    assert sorted(driver.list("/r")) == ["a", "b"]
    with pytest.raises(PathNotFound):
        driver.list("/none")
