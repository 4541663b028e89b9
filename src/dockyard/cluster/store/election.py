"""Leader election on any `ClusterStore`: the leader is whoever holds the election key,
created only if absent and bound to the candidate's lease, so a leader whose daemon dies
loses the key when its lease expires and a waiting candidate takes it over."""

from __future__ import annotations

from dockyard.cluster.store.base import ClusterStore, Compare, Put, Range


async def campaign(store: ClusterStore, key: str, value: bytes, lease: int) -> int:
    """Blocks until this candidate holds `key`; returns the revision it was won at."""
    while True:
        res = await store.txn([Compare(key, "create", 0)], [Put(key, value, lease)], [Range(key)])
        if res.succeeded:
            return res.revision
        held = res.ranges[0][0] if res.ranges and res.ranges[0] else None
        if held is not None and held.lease == lease:  # already ours (a retried campaign)
            return held.mod_revision
        async for ev in store.watch(key, res.revision + 1):
            if ev.kv.key == key and ev.type == "delete":
                break


async def leader(store: ClusterStore, key: str) -> bytes | None:
    kv = await store.get(key)
    return kv.value if kv else None


async def resign(store: ClusterStore, key: str, lease: int) -> None:
    """Gives the key up only if this lease still holds it."""
    kv = await store.get(key)
    if kv is not None and kv.lease == lease:
        await store.delete(key, expect=kv.mod_revision)
