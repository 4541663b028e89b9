"""The daemon ↔ monitor protocol (sans-I/O).

One Unix stream socket per monitor (`monitor.sock` in the container's exec
dir). Both directions carry Docker's multiplexed frames (`proto.stdcopy`):
STDIN frames go to the container's stdin, STDOUT/STDERR frames come from it,
and CONTROL frames hold one JSON object each:

daemon → monitor                         monitor → daemon
  {"op": "start"}                          {"event": "started", "pid": 1234}
  {"op": "kill", "signal": 15}             {"event": "exit", "exit_code": 0,
  {"op": "close_stdin"}                     "signal": 0, "finished_at": "...", "error": ""}
  {"op": "resize", "h": 24, "w": 80}       {"event": "error", "message": "..."}
  {"op": "status"}                         {"event": "status", "pid": .., "state": ..}

The monitor writes the outcome of `create` on its ready pipe (stdout as the
daemon spawned it) as one JSON line: {"ok": true, "pid": N, "monitor_pid": M}
or {"ok": false, "error": "..."}, then closes it.
"""

from __future__ import annotations

import json
from typing import Any

from dockyard.proto import stdcopy


def control(msg: dict[str, Any]) -> bytes:
    return stdcopy.encode(stdcopy.CONTROL, json.dumps(msg, separators=(",", ":")).encode())


def parse_control(data: bytes) -> dict[str, Any]:
    msg = json.loads(data)
    if not isinstance(msg, dict):
        raise ValueError("control message is not an object")
    return msg
