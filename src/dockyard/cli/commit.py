"""`dockyard commit`: a container's changes into a new image (POST /commit)."""

from __future__ import annotations

from dockyard.cli.flags import BOOL, CHANGE, STRING, Command, Flag
from dockyard.cli.main import Cli, command_table, handles
from dockyard.client.errors import ClientError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

COMMIT = Command(
    "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
    "Create a new image from a container's changes",
    (
        Flag("author", "a", STRING, "Author", metavar="string"),
        CHANGE,
        Flag("message", "m", STRING, "Commit message", metavar="string"),
        Flag("pause", "p", BOOL, "Pause container during commit", default=True),
    ),
    min_args=1,
    aliases=("container commit",),
)  # fmt: skip


@handles(COMMIT)
def commit(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    params: dict[str, Any] = {
        "container": args[0],
        "comment": opts["message"] or "",
        "author": opts["author"] or "",
        "pause": "1" if opts["pause"] else "0",
        "changes": opts["change"] or [],
    }
    if len(args) > 1:
        params["repo"] = args[1]
    try:
        out = cli.client.post("/commit", params)
    except ClientError as e:
        cli.err(f"Error response from daemon: {e}\n")
        return 1
    print(out["Id"])
    return 0


COMMANDS = command_table(commit)
