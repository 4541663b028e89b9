"""Following containers' output with Compose v2's prefixes (`web-1  | line`).

One thread per container streams `GET /containers/{id}/logs` (demultiplexed unless
the container has a TTY) and hands whole lines to a shared printer, which pads
the prefixes to the longest name and colours them on a terminal. `attach` is
`up`'s foreground mode: follow until every container exits, or stop them all
when one exits with `--abort-on-container-exit`.
"""

from __future__ import annotations

import queue
import sys
import threading

from dockyard.client.errors import ClientError
from dockyard.compose import labels
from dockyard.compose.parallel import take

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

    from dockyard.compose.engineapi import EngineAPI

_COLORS = ["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"]


def display_name(container: dict[str, Any]) -> str:
    """`web-1` for `proj-web-1` (v2 drops the project from prefixes)."""
    name = container["Names"][0].lstrip("/")
    project = (container.get("Labels") or {}).get(labels.PROJECT, "")
    return name[len(project) + 1 :] if project and name.startswith(project + "-") else name


class Printer:
    def __init__(self, out: TextIO | None = None, color: bool | None = None,
                 prefix: bool = True, timestamps: bool = False) -> None:  # fmt: skip
        self.out = out or sys.stdout
        self.color = self.out.isatty() if color is None else color
        self.prefix = prefix
        self.width = 0
        self._colors: dict[str, str] = {}
        self._lock = threading.Lock()

    def register(self, name: str) -> None:
        self.width = max(self.width, len(name))
        self._colors.setdefault(name, _COLORS[len(self._colors) % len(_COLORS)])

    def _prefix(self, name: str) -> str:
        if not self.prefix:
            return ""
        text = f"{name.ljust(self.width)}  | "
        return f"\033[{self._colors.get(name, '0')}m{text}\033[0m" if self.color else text

    def line(self, name: str, text: str) -> None:
        with self._lock:
            self.out.write(self._prefix(name) + text + ("" if text.endswith("\n") else "\n"))
            self.out.flush()

    def event(self, text: str) -> None:
        with self._lock:
            self.out.write(text + "\n")
            self.out.flush()


def stream_lines(api: EngineAPI, cid: str, params: dict[str, Any], tty: bool,
                 emit: Any) -> None:  # fmt: skip
    """Every line the container printed (per stream), to `emit(text)`."""
    from dockyard.proto.stdcopy import FrameDecoder

    decoder = FrameDecoder()
    pending = {1: b"", 2: b""}

    def feed(stream: int, data: bytes) -> None:
        buf = pending[stream] + data
        *lines, pending[stream] = buf.split(b"\n")
        for ln in lines:
            emit(ln.decode("utf-8", "replace") + "\n")

    try:
        for chunk in api.logs(cid, params):
            if tty:
                feed(1, chunk)
                continue
            decoder.feed(chunk)
            for frame in decoder:
                feed(2 if frame.stream == 2 else 1, frame.data)
    except (ClientError, OSError):
        pass
    for stream, rest in pending.items():
        if rest:
            emit(rest.decode("utf-8", "replace") + "\n")
            pending[stream] = b""


def follow(api: EngineAPI, containers: list[dict[str, Any]], printer: Printer,
           params: dict[str, Any], on_end: Any = None) -> list[threading.Thread]:  # fmt: skip
    """Start one daemon thread per container; `on_end(container)` when its stream ends."""
    threads = []
    for c in containers:
        printer.register(display_name(c))
    for c in containers:
        tty = bool((api.inspect(c["Id"]).get("Config") or {}).get("Tty"))
        name = display_name(c)

        def run(c: dict[str, Any] = c, name: str = name, tty: bool = tty) -> None:
            stream_lines(api, c["Id"], params, tty, lambda t: printer.line(name, t))
            if on_end is not None:
                on_end(c)

        th = threading.Thread(target=run, daemon=True)
        th.start()
        threads.append(th)
    return threads


def attach(api: EngineAPI, containers: list[dict[str, Any]], printer: Printer,
           abort_on_exit: bool, exit_code_from: str | None, stop_all: Any) -> int:  # fmt: skip
    """`up` in the foreground; the exit status as v2 gives it."""
    ended: queue.Queue[tuple[dict[str, Any], int]] = queue.Queue()

    def on_end(c: dict[str, Any]) -> None:
        try:
            code = api.wait(c["Id"])
        except ClientError:
            code = -1
        ended.put((c, code))

    remaining = len(containers)
    status = 0
    aborting = False
    try:
        # inside: a Ctrl-C answered as soon as the first follower prints may come
        # while the others are still being set up, and must stop them all too
        follow(api, containers, printer, {"follow": True, "stdout": True, "stderr": True},
               on_end)  # fmt: skip
        while remaining:
            c, code = take(ended)
            remaining -= 1
            printer.event(f"{display_name(c)} exited with code {code}")
            service = (c.get("Labels") or {}).get(labels.SERVICE)
            if exit_code_from and service == exit_code_from:
                status = code
            if abort_on_exit and not aborting:
                aborting = True
                if not exit_code_from:
                    status = code
                printer.event("Aborting on container exit...")
                stop_all()
                # what stop_all stopped ends its streams; wait for them
    except KeyboardInterrupt:
        printer.event("Gracefully stopping... (press Ctrl+C again to force)")
        stop_all()
        return 130
    return status
