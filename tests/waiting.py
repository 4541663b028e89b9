"""The one way tests wait: poll a condition until a deadline, then fail saying what
was awaited and what was last seen. No test sleeps a fixed time to let something
happen; it waits for the thing itself (a file, a process, a state, a line of output).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not hold before the deadline."""


def wait_until(
    cond: Callable[[], T], what: str, timeout: float = 15.0, interval: float = 0.05
) -> T:
    """Call `cond` until it returns something true and return that; fail after
    `timeout` seconds with `what` and the last value seen (or the last exception
    `cond` raised, which counts as not yet)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = cond()
        except Exception as e:  # noqa: BLE001 - not yet; said in the failure
            value, last = None, e  # type: ignore[assignment]
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:g} s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def holds_for(cond: Callable[[], object], what: str, seconds: float, interval: float = 0.1) -> None:
    """Check that `cond` stays true for `seconds` (for "nothing more happens", where
    there is no event to wait on): fails at the first false."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert cond(), f"{what} stopped holding"
        time.sleep(interval)
