"""The ContentStore contract, run against every implementation (today the
filesystem store): digest-addressed, verified writes, idempotent adds, reads,
walk and delete with NotFound as Docker words it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.api.errors import NotFound
from dockyard.store.content import ContentStore, DigestMismatch, FileContentStore
from dockyard.store.paths import StorePaths

IMPLEMENTATIONS: dict[str, Callable[[Path], ContentStore]] = {
    "filesystem": lambda root: FileContentStore(StorePaths.under(root)),
}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ContentStore:
    return IMPLEMENTATIONS[request.param](tmp_path)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_write_commit_read(store: ContentStore) -> None:
    data = b"layer" * 1000
    with store.writer() as w:
        w.write(data[:7])
        w.write(data[7:])
        info = w.commit(_digest(data), len(data))
    assert (info.digest, info.size) == (_digest(data), len(data))
    assert store.read(info.digest) == data
    assert store.info(info.digest).size == len(data)
    with store.open(info.digest) as f:
        assert f.read(5) == b"layer"


def test_a_wrong_digest_is_refused_and_nothing_kept(store: ContentStore) -> None:
    with pytest.raises(DigestMismatch), store.writer() as w:
        w.write(b"abc")
        w.commit(_digest(b"abd"), 3)
    assert store.info_or_none(_digest(b"abd")) is None
    assert list(store.walk()) == []


def test_add_is_idempotent_and_walk_lists_each_blob_once(store: ContentStore) -> None:
    a, b = store.add(b"a"), store.add(b"b", _digest(b"b"))
    assert store.add(b"a", a.digest) == a
    assert sorted(i.digest for i in store.walk()) == sorted([a.digest, b.digest])


def test_delete_and_not_found(store: ContentStore) -> None:
    info = store.add(b"gone")
    store.delete(info.digest)
    for call in (store.info, store.read, store.delete, store.open):
        with pytest.raises(NotFound, match="not found"):
            call(info.digest)
