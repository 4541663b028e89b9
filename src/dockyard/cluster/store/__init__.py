"""The cluster store: the `ClusterStore` protocol (base), its etcd implementation (etcd),
lease-based election on top of it (election) and the embedded etcd member (member)."""

from dockyard.cluster.store.base import (
    ClusterStore,
    Compacted,
    Compare,
    Delete,
    Event,
    KeyValue,
    Put,
    Range,
    RevisionMismatch,
    StoreError,
    TxnResult,
)
from dockyard.cluster.store.etcd import EtcdStore

__all__ = [
    "ClusterStore", "Compacted", "Compare", "Delete", "Event", "EtcdStore", "KeyValue", "Put",
    "Range", "RevisionMismatch", "StoreError", "TxnResult",
]  # fmt: skip
