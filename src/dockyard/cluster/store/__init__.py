"""The cluster store: the `ClusterStore` protocol (base), its etcd implementation (etcd),
lease-based election on top of it (election) and the embedded etcd member (member).

The package offers base's names as base's `__all__` lists them (as asyncio's package
offers its modules'), and the etcd store."""

from dockyard.cluster.store import base
from dockyard.cluster.store.base import *  # noqa: F403 - the protocol and its types
from dockyard.cluster.store.etcd import EtcdStore

__all__ = [*base.__all__, "EtcdStore"]
