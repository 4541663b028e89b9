"""Progress lines as Compose v2 prints them in plain mode (` Container x  Started`).

Events go to stderr, one line each, from any thread; `quiet` prints nothing. The
live terminal view of v2 is not drawn: plain lines are what v2 prints off a
terminal and what scripts and tests read.
"""

from __future__ import annotations

import sys
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO


class Progress:
    def __init__(self, mode: str = "auto", stream: TextIO | None = None) -> None:
        self.mode = mode
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()

    def event(self, kind: str, name: str, status: str) -> None:
        if self.mode == "quiet":
            return
        with self._lock:
            self.stream.write(f" {kind} {name}  {status}\n")
            self.stream.flush()

    def warn(self, message: str) -> None:
        with self._lock:
            self.stream.write(f'time="" level=warning msg="{message}"\n'.replace('time="" ', ""))
            self.stream.flush()
