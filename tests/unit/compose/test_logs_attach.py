"""compose.logs.attach: a foreground `up` stops what it started on Ctrl-C, wherever it is.

The Engine API is a stand-in here (our own client's three calls that attach makes), so
that the interrupt lands at a chosen point: the race it stands for is a real one (the
Ctrl-C test of compose up failed once under load: exit 130 and the container running).
"""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest

from dockyard.compose import logs


class _Api:
    """Two containers; the interrupt arrives while attach still sets up the second's
    follower, after the first's output has started (what a user sees and answers)."""

    def __init__(self) -> None:
        self.inspected = 0
        self.released = threading.Event()

    def inspect(self, cid: str) -> dict[str, Any]:
        self.inspected += 1
        if self.inspected == 2:
            raise KeyboardInterrupt
        return {"Config": {"Tty": True}}

    def logs(self, cid: str, params: dict[str, Any]) -> Any:
        yield b"up\n"
        self.released.wait(30)

    def wait(self, cid: str) -> int:
        return 0


def _containers() -> list[dict[str, Any]]:
    return [{"Id": f"c{i}", "Names": [f"/p-s{i}-1"], "Labels": {}} for i in (1, 2)]


def test_ctrl_c_while_followers_start_stops_the_project() -> None:
    api = _Api()
    stopped: list[bool] = []

    def stop_all() -> None:
        stopped.append(True)
        api.released.set()

    out = io.StringIO()
    try:
        status = logs.attach(api, _containers(), logs.Printer(out, color=False),  # type: ignore[arg-type]
                             False, None, stop_all)  # fmt: skip
    except KeyboardInterrupt:
        pytest.fail("the interrupt left attach before anything was stopped")
    assert status == 130
    assert stopped == [True]
    assert "Gracefully stopping..." in out.getvalue()
