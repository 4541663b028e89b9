"""The daemon ↔ monitor protocol (sans-I/O).

A monitor listens on its own Unix stream socket (`exec-root/s/<id>`, see
daemon/paths.py); the daemon keeps one main link to it, and a second link for a
process's input (daemon/services/stdin.py), which the monitor stops reading while
the process does not take it, so control on the main link is never stuck behind
input. Both carry Docker's multiplexed frames (`proto.stdcopy`): STDIN frames go to
the process's stdin, STDOUT/STDERR frames come from it, and CONTROL frames hold one
JSON object each:

daemon → monitor                         monitor → daemon
  {"op": "start"}                          {"event": "started", "pid": 1234}
  {"op": "kill", "signal": 15}             {"event": "exit", "exit_code": 0,
  {"op": "close_stdin"}  (input link)       "signal": 0, "finished_at": "...", "error": ""}
  {"op": "resize", "h": 24, "w": 80}       {"event": "error", "message": "..."}
  {"op": "status"}                         {"event": "status", "pid": N,
  {"op": "output", "on": false}             "started": bool, "exited": bool}
                                           {"event": "output"}

`output` says whether a link wants the process's output (monitor/relay.py); turned
on, the monitor answers {"event": "output"}: the output it read before is in the
log, so a `logs --follow` waiting for output re-reads the file then. A
container's `exit` also carries "oom_killed" when the kernel's OOM killer ended it.
The outcome of `create` reaches the daemon through the monitor host (host.py),
as one JSON line on the request's socket: {"ok": true, "pid": N, "monitor_pid": M}
or {"ok": false, "error": "..."} ({"ok": false, "full": true} from a full host).
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
