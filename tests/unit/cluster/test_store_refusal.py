"""Which of etcd's refusals mean "not now" (an election, a lost quorum): the agent tries
those again and reports the others at once."""

from __future__ import annotations

import pytest

from dockyard.cluster.store import StoreError, StoreUnavailable
from dockyard.cluster.store.etcd import refusal


@pytest.mark.parametrize("message", [
    "etcdserver: request timed out",
    "etcdserver: request timed out, possibly due to previous leader failure",
    "etcdserver: leader changed",
    "etcdserver: no leader",
    "etcdserver: too many requests",
    "etcdserver: server stopped",
])  # fmt: skip
def test_not_now(message: str) -> None:
    assert isinstance(refusal(message), StoreUnavailable)


@pytest.mark.parametrize("message", [
    "etcdserver: permission denied",
    "etcdserver: requested lease not found",
    "etcdserver: too many operations in txn request",
])  # fmt: skip
def test_for_good(message: str) -> None:
    err = refusal(message)
    assert isinstance(err, StoreError) and not isinstance(err, StoreUnavailable)
    assert str(err) == message
