"""`dockyard top`, `pause`, `unpause`, `rename` and `diff`: one request each
against the per-container endpoints, printed as the docker CLI prints them."""

from __future__ import annotations

from dockyard.cli.flags import Command
from dockyard.cli.format import tabwrite
from dockyard.cli.main import Cli, command_table, handles
from dockyard.client.errors import APIError
from dockyard.client.http import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TOP = Command(
    "top CONTAINER [ps OPTIONS]", "Display the running processes of a container",
    min_args=1, interspersed=False,
)  # fmt: skip
PAUSE = Command(
    "pause CONTAINER [CONTAINER...]", "Pause all processes within one or more containers",
    min_args=1,
)  # fmt: skip
UNPAUSE = Command(
    "unpause CONTAINER [CONTAINER...]",
    "Unpause all processes within one or more containers", min_args=1,
)  # fmt: skip
RENAME = Command("rename CONTAINER NEW_NAME", "Rename a container", min_args=2, max_args=2)
DIFF = Command(
    "diff CONTAINER", "Inspect changes to files or directories on a container's filesystem",
    min_args=1, max_args=1,
)  # fmt: skip


@handles(TOP)
def top(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    params = {"ps_args": " ".join(args[1:])} if len(args) > 1 else None
    res = cli.client.get(f"/containers/{quote(args[0])}/top", params)
    lines = ["\t".join(res["Titles"])] + ["\t".join(p) for p in res["Processes"] or []]
    # docker: tabwriter.NewWriter(out, 20, 1, 3, ' ', 0)
    cli.out(tabwrite("\n".join(lines), minwidth=20) + "\n")
    return 0


@handles(PAUSE)
def pause(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.lifecycle import each

    return each(cli, args, lambda n: cli.client.post(f"/containers/{quote(n)}/pause"))


@handles(UNPAUSE)
def unpause(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.lifecycle import each

    return each(cli, args, lambda n: cli.client.post(f"/containers/{quote(n)}/unpause"))


@handles(RENAME)
def rename(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    old, new = args
    try:
        cli.client.post(f"/containers/{quote(old)}/rename", {"name": new})
    except APIError as e:
        cli.err(f"{e}\nError: failed to rename container named {old}\n")
        return 1
    return 0


@handles(DIFF)
def diff(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    changes = cli.client.get(f"/containers/{quote(args[0])}/changes") or []
    cli.out("".join(f"{'CAD'[c['Kind']]} {c['Path']}\n" for c in changes))
    return 0


COMMANDS = command_table(top, pause, unpause, rename, diff)
