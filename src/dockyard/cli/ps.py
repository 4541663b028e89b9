"""`dockyard ps`: GET /containers/json printed through docker's `ps` template
and context (`pscontext`)."""

from __future__ import annotations

import os

from dockyard.cli.filterflag import filter_flag, parse_filters
from dockyard.cli.flags import ALL_CONTAINERS, BOOL, INT, NO_TRUNC, SIZE, STRING, Command, Flag
from dockyard.cli.main import command_table, handles

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.main import Cli

PS = Command(
    "ps [OPTIONS]",
    "List containers",
    (
        ALL_CONTAINERS,
        filter_flag("Filter output based on conditions provided"),
        Flag("format", "", STRING, "Pretty-print containers using a Go template", metavar="string"),
        Flag("last", "n", INT, "Show n last created containers (includes all states)", -1, "int"),
        Flag("latest", "l", BOOL, "Show the latest created container (includes all states)"),
        NO_TRUNC,
        Flag("quiet", "q", BOOL, "Only display container IDs"),
        SIZE,
    ),
    max_args=0,
    aliases=("container ls", "container list", "container ps"),
)
PS_TABLE = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)


@handles(PS)
def ps(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.pscontext import ContainerRow, ps_header
    from dockyard.cli.template import print_rows

    filters = parse_filters(opts["filter"])
    limit = 1 if opts["latest"] else opts["last"]
    params = {
        "all": (opts["all"] or limit > 0) or None,
        "limit": limit if limit > 0 else None,
        "size": opts["size"] or None,
        "filters": filters,
    }
    containers = cli.client.get("/containers/json", params) or []
    trunc = not opts["no_trunc"]
    if opts["quiet"] and not opts["format"]:
        fmt = "{{.ID}}"
    else:
        fmt = opts["format"] or os.environ.get("DOCKYARD_PS_FORMAT") or PS_TABLE
        if fmt == "table":
            fmt = PS_TABLE
        if opts["size"] and fmt == PS_TABLE:
            fmt += "\t{{.Size}}"
    rows = [ContainerRow(c, trunc) for c in containers]
    return print_rows(cli, fmt, rows, ps_header())


COMMANDS = command_table(ps)
