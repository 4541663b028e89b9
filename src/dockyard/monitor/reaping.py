"""Collecting exited children without blocking: the one waitpid loop of monitor
hosts (which dispatch each status) and the zygote (which only reaps)."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


def exited_children() -> Iterator[tuple[int, int]]:
    """(pid, wait status) of each child that has exited, until none is left waiting."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # no children at all
            return
        if pid == 0:  # children, none exited
            return
        yield pid, status
