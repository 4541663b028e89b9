"""The `ClusterStore` conformance suite, run against every implementation (etcd today)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from dockyard.cluster.store import (
    ClusterStore,
    Compare,
    EtcdStore,
    Put,
    Range,
    RevisionMismatch,
    election,
)


@pytest.fixture(params=["etcd"])
def make_store(request: pytest.FixtureRequest, etcd_url: str) -> Callable[[], EtcdStore]:
    return lambda: EtcdStore([etcd_url])


@pytest.fixture
def prefix() -> str:
    return f"/conf/{uuid.uuid4().hex}/"


def run(coro_fn: Callable[[ClusterStore], object], make: Callable[[], EtcdStore]) -> None:
    async def main() -> None:
        store = make()
        try:
            await coro_fn(store)  # type: ignore[misc]
        finally:
            await store.close()

    asyncio.run(main())


def test_put_get_range(make_store: Callable[[], EtcdStore], prefix: str) -> None:
    async def body(s: ClusterStore) -> None:
        assert await s.get(prefix + "a") is None
        r1 = await s.put(prefix + "b", b"2")
        r2 = await s.put(prefix + "a", b"1")
        assert r2 > r1
        kv = await s.get(prefix + "a")
        assert kv is not None and kv.value == b"1" and kv.mod_revision == r2
        await s.put(prefix[:-1] + "x", b"outside")
        kvs, rev = await s.range(prefix)
        assert [k.key for k in kvs] == [prefix + "a", prefix + "b"]
        assert rev >= r2

    run(body, make_store)


def test_guarded_put_and_delete(make_store: Callable[[], EtcdStore], prefix: str) -> None:
    async def body(s: ClusterStore) -> None:
        key = prefix + "k"
        rev = await s.put(key, b"v1", expect=0)  # create only
        with pytest.raises(RevisionMismatch):
            await s.put(key, b"again", expect=0)
        rev2 = await s.put(key, b"v2", expect=rev)
        with pytest.raises(RevisionMismatch):  # a stale revision
            await s.put(key, b"v3", expect=rev)
        kv = await s.get(key)
        assert kv is not None and kv.value == b"v2"
        with pytest.raises(RevisionMismatch):
            await s.delete(key, expect=rev)
        await s.delete(key, expect=rev2)
        assert await s.get(key) is None

    run(body, make_store)


def test_txn(make_store: Callable[[], EtcdStore], prefix: str) -> None:
    async def body(s: ClusterStore) -> None:
        a, b = prefix + "a", prefix + "b"
        rev = await s.put(a, b"1")
        res = await s.txn([Compare(a, "mod", rev)], [Put(a, b"2"), Put(b, b"x")], [Range(a)])
        assert res.succeeded
        res = await s.txn([Compare(a, "mod", rev)], [Put(b, b"y")], [Range(a)])
        assert not res.succeeded and res.ranges[0][0].value == b"2"
        assert (await s.get(b)).value == b"x"  # type: ignore[union-attr]
        res = await s.txn([Compare(a, "value", b"2")], [Range(prefix, prefix=True)])
        assert res.succeeded and [k.key for k in res.ranges[0]] == [a, b]

    run(body, make_store)


def test_watch_from_revision(make_store: Callable[[], EtcdStore], prefix: str) -> None:
    async def body(s: ClusterStore) -> None:
        start = await s.put(prefix + "1", b"a")  # before the watch: replayed from its revision
        watch: AsyncIterator = s.watch(prefix, start)  # type: ignore[assignment]

        async def collect(n: int) -> list[tuple[str, str]]:
            out = []
            async for ev in watch:
                out.append((ev.type, ev.kv.key.removeprefix(prefix)))
                if len(out) == n:
                    break
            return out

        task = asyncio.create_task(collect(3))
        await s.put(prefix + "2", b"b")
        await s.delete(prefix + "1")
        got = await asyncio.wait_for(task, 10)
        assert got == [("put", "1"), ("put", "2"), ("delete", "1")]
        await watch.aclose()  # type: ignore[attr-defined]

    run(body, make_store)


def test_lease_expiry_deletes_keys(make_store: Callable[[], EtcdStore], prefix: str) -> None:
    async def body(s: ClusterStore) -> None:
        lease = await s.grant(1)
        await s.put(prefix + "alive", b"1", lease=lease)
        assert await s.keepalive(lease) > 0
        kv = await s.get(prefix + "alive")
        assert kv is not None and kv.lease == lease
        # no more keepalives: the key goes with the lease (waited for, not slept)
        for _ in range(100):
            if await s.get(prefix + "alive") is None:
                break
            await asyncio.sleep(0.1)
        assert await s.get(prefix + "alive") is None
        assert await s.keepalive(lease) <= 0
        lease2 = await s.grant(30)
        await s.put(prefix + "k2", b"1", lease=lease2)
        await s.revoke(lease2)
        assert await s.get(prefix + "k2") is None

    run(body, make_store)


def test_election(make_store: Callable[[], EtcdStore], prefix: str) -> None:
    async def body(s: ClusterStore) -> None:
        key = prefix + "leader"
        l1, l2 = await s.grant(30), await s.grant(30)
        await election.campaign(s, key, b"one", l1)
        assert await election.leader(s, key) == b"one"
        second = asyncio.create_task(election.campaign(s, key, b"two", l2))
        await asyncio.sleep(0.3)
        assert not second.done()  # waits while the first holds it
        await election.resign(s, key, l1)
        await asyncio.wait_for(second, 10)
        assert await election.leader(s, key) == b"two"
        await s.revoke(l2)  # a dead leader's lease frees the key
        assert await election.leader(s, key) is None

    run(body, make_store)
