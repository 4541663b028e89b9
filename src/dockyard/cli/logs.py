"""`dockyard logs`: GET /containers/{id}/logs, copied out as `attach` copies
(demultiplexed unless the container has a TTY)."""

from __future__ import annotations

from dockyard.cli.attach import copy_output
from dockyard.cli.flags import BOOL, FOLLOW, LOGS_SINCE, STRING, TIMESTAMPS, Command, Flag
from dockyard.cli.main import command_table, handles
from dockyard.client.http import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.main import Cli

LOGS = Command(
    "logs [OPTIONS] CONTAINER",
    "Fetch the logs of a container",
    (
        Flag("details", "", BOOL, "Show extra details provided to logs"),
        FOLLOW,
        LOGS_SINCE,
        Flag(
            "tail",
            "n",
            STRING,
            'Number of lines to show from the end of the logs (default "all")',
            "all",
            "string",
        ),
        TIMESTAMPS,
        Flag(
            "until",
            "",
            STRING,
            "Show logs before a timestamp or relative (e.g. 42m for 42 minutes)",
            metavar="string",
        ),
    ),
    min_args=1,
    max_args=1,
)


@handles(LOGS)
def logs(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.timeflags import since_until

    name = quote(args[0])
    info = cli.client.get(f"/containers/{name}/json")
    params = {
        "stdout": True,
        "stderr": True,
        "follow": opts["follow"] or None,
        "timestamps": opts["timestamps"] or None,
        "details": opts["details"] or None,
        "tail": opts["tail"],
        **since_until(opts),
    }
    resp = cli.client.request("GET", f"/containers/{name}/logs", params)

    class _Body:
        def __init__(self) -> None:
            self._chunks = resp.iter_body()

        def recv(self) -> bytes:
            return next(self._chunks, b"")

    try:
        copy_output(_Body(), info["Config"].get("Tty", False))
    finally:
        resp.close()
    return 0


COMMANDS = command_table(logs)
