"""Progress as Compose v2 shows it: plain lines (` Container x  Started`) off a
terminal or with `--progress plain`; on a terminal (`auto` or `tty`) a live view
redrawn in place (`[+] Running 3/4`, one line per object with a ✔ when done and
its elapsed time); one JSON object per event with `json` (v2's `{"id":"Container
x","status":"Started"}`, keys as Go marshals them); nothing with `quiet`. Events
come from any thread.
"""

from __future__ import annotations

import sys
import threading
import time

from dockyard.compose import gojson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

DONE = {"Created", "Started", "Running", "Healthy", "Exited", "Removed", "Stopped", "Recreated",
        "Built", "Pulled", "Pushed", "Killed", "Paused", "Unpaused"}  # fmt: skip


class Progress:
    def __init__(self, mode: str = "auto", stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        if mode == "auto":
            try:
                mode = "tty" if self.stream.isatty() else "plain"
            except (AttributeError, ValueError):
                mode = "plain"
        self.mode = mode
        self._lock = threading.Lock()
        # "Kind name" -> [kind, name, status, started, finished or None]
        self._items: dict[str, list[object]] = {}
        self._drawn = 0

    def event(self, kind: str, name: str, status: str) -> None:
        if self.mode == "quiet":
            return
        with self._lock:
            if self.mode == "json":
                self.stream.write(gojson.go_json({"id": f"{kind} {name}", "status": status}) + "\n")
                self.stream.flush()
                return
            if self.mode != "tty":
                self.stream.write(f" {kind} {name}  {status}\n")
                self.stream.flush()
                return
            now = time.monotonic()
            item = self._items.setdefault(f"{kind} {name}", [kind, name, status, now, None])
            item[2] = status
            item[4] = now if status in DONE or status.startswith(("Error", "Warning")) else None
            self._redraw()

    def _redraw(self) -> None:
        items = list(self._items.values())
        done = sum(1 for i in items if i[4] is not None)
        width = max(len(f"{i[0]} {i[1]}") for i in items)
        now = time.monotonic()
        lines = [f"[+] Running {done}/{len(items)}"]
        for kind, name, status, started, finished in items:
            mark = "\u2714" if finished is not None else "\u283f"
            elapsed = (finished or now) - started  # type: ignore[operator]
            label = f"{kind} {name}".ljust(width)
            lines.append(f" {mark} {label}  {str(status):<10} {elapsed:.1f}s")
        clear = "\033[1A\033[2K" * self._drawn
        self.stream.write(clear + "\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines)

    def warn(self, message: str) -> None:
        with self._lock:
            if self.mode == "tty" and self._drawn:
                self.stream.write("\033[1A\033[2K" * self._drawn)
                self._drawn = 0
            self.stream.write(f'level=warning msg="{message}"\n')
            self.stream.flush()
            if self.mode == "tty" and self._items:
                self._redraw()
