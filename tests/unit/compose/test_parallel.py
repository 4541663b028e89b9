"""compose.parallel: thunks side by side in threads, failures reported and waits cancelled."""

from __future__ import annotations

import threading
import time

import pytest

from dockyard.compose.parallel import Cancelled, Outcome, each, gather, sleep


def test_results_in_order_and_side_by_side() -> None:
    # each thunk waits until all three are running: it completes only if they overlap
    barrier = threading.Barrier(3, timeout=30)

    def one(i: int) -> int:
        barrier.wait()
        return i * 10

    assert each(one, [1, 2, 3]) == [10, 20, 30]
    assert gather() == []


def test_first_error_is_raised_after_all_have_returned() -> None:
    finished = []

    def slow() -> None:
        finished.append("slow")

    def bad() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        gather(slow, bad)
    assert finished == ["slow"]


def test_a_failure_cancels_polling_and_waiting_in_the_same_run() -> None:
    never = Outcome()
    started = threading.Event()
    cancelled: list[str] = []
    deadline = time.monotonic() + 60
    # without cancellation the waits end only here, and the assertions below fail
    release = threading.Timer(60, never.set)
    release.daemon = True
    release.start()

    def poller() -> None:
        started.set()
        try:
            while time.monotonic() < deadline:
                sleep(0.05)
        except Cancelled:
            cancelled.append("poll")
            raise

    def waiter() -> None:
        try:
            never.wait()
        except Cancelled:
            cancelled.append("wait")
            raise

    def bad() -> None:
        started.wait(30)
        raise RuntimeError("create failed")

    with pytest.raises(RuntimeError, match="create failed"):  # the cause, not a Cancelled
        gather(poller, waiter, bad)
    assert time.monotonic() < deadline
    release.cancel()
    assert sorted(cancelled) == ["poll", "wait"]
    # the next run starts afresh: the failure above does not cancel it
    assert gather(lambda: sleep(0) or 1, lambda: 2) == [1, 2]


def test_outcome_carries_success_or_the_error() -> None:
    ok, failed = Outcome(), Outcome()
    results: list[object] = []

    def wait_both() -> None:
        ok.wait()
        results.append("ok")
        try:
            failed.wait()
        except KeyError as e:
            results.append(e)

    t = threading.Thread(target=wait_both)
    t.start()
    ok.set()
    failed.set(KeyError("dep"))
    failed.set()  # set once: a later success does not hide the error
    t.join(30)
    assert results[0] == "ok" and isinstance(results[1], KeyError)
