"""The `ClusterStore` protocol: the few operations swarm mode needs from a consistent
key-value store (etcd v3's model: revisions, leases, watches), and its data types.

Keys are str, values bytes. Every write returns the store's new revision; a guarded
write (`expect=`) fails with `RevisionMismatch` when the key's mod revision is not the
one read, which is how Docker's `Version.Index` becomes optimistic concurrency.
`expect=0` means "the key must not exist".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = [
    "ClusterStore", "Compacted", "Compare", "Delete", "Event", "KeyValue", "Put", "Range",
    "RevisionMismatch", "StoreError", "StoreUnavailable", "TxnResult",
]  # fmt: skip


class StoreError(Exception):
    """The store could not be reached or refused a request."""


class StoreUnavailable(StoreError):
    """The store is away for now: not reached, electing a leader, or without a quorum.
    The same request may succeed later; other StoreErrors (a permission, a bad
    request) would not."""


class RevisionMismatch(StoreError):
    """A guarded write found the key at another revision than expected."""


class Compacted(StoreError):
    """A watch asked for a revision the store has compacted away."""


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: bytes
    mod_revision: int
    create_revision: int
    lease: int = 0


@dataclass(frozen=True)
class Event:
    type: Literal["put", "delete"]
    kv: KeyValue


@dataclass(frozen=True)
class Compare:
    """A transaction guard: `key`'s mod revision (`target="mod"`) or value equals `value`."""

    key: str
    target: Literal["mod", "create", "value"] = "mod"
    value: int | bytes = 0
    op: Literal["=", "!=", "<", ">"] = "="


@dataclass(frozen=True)
class Put:
    key: str
    value: bytes
    lease: int = 0


@dataclass(frozen=True)
class Delete:
    key: str
    prefix: bool = False


@dataclass(frozen=True)
class TxnResult:
    succeeded: bool
    revision: int
    ranges: list[list[KeyValue]] = field(default_factory=list)


@dataclass(frozen=True)
class Range:
    """A read inside a transaction (its result is in `TxnResult.ranges`)."""

    key: str
    prefix: bool = False


class ClusterStore(Protocol):
    async def get(self, key: str) -> KeyValue | None: ...

    async def range(self, prefix: str) -> tuple[list[KeyValue], int]:
        """Every key under `prefix`, sorted by key, and the revision they were read at."""
        ...

    async def put(
        self, key: str, value: bytes, *, expect: int | None = None, lease: int = 0
    ) -> int: ...

    async def delete(self, key: str, *, expect: int | None = None, prefix: bool = False) -> int: ...

    async def txn(
        self,
        compare: list[Compare],
        success: list[Put | Delete | Range],
        failure: list[Put | Delete | Range] | None = None,
    ) -> TxnResult: ...

    def watch(self, prefix: str, start_revision: int) -> AsyncIterator[Event]:
        """Events under `prefix` from `start_revision` (inclusive), in revision order, forever."""
        ...

    async def grant(self, ttl: int) -> int: ...

    async def keepalive(self, lease: int) -> int:
        """Refresh the lease; its remaining TTL (0 or less: it has expired)."""
        ...

    async def revoke(self, lease: int) -> None: ...

    async def close(self) -> None: ...
