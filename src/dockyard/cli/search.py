"""`dockyard search`: GET /images/search, printed as the docker CLI prints it
(NAME, DESCRIPTION cut at 45 characters unless --no-trunc, STARS, OFFICIAL)."""

from __future__ import annotations

from typing import Any

from dockyard.cli.filterflag import filter_flag
from dockyard.cli.flags import INT, NO_TRUNC, STRING, Command, Flag
from dockyard.cli.format import ellipsis
from dockyard.cli.main import Cli, command_table, handles

SEARCH = Command(
    "search [OPTIONS] TERM", "Search Docker Hub for images",
    (filter_flag("Filter output based on conditions provided"),
     Flag("format", "", STRING, "Pretty-print search using a Go template", metavar="string"),
     Flag("limit", "", INT, "Max number of search results", metavar="int"),
     NO_TRUNC),
    min_args=1, max_args=1,
)  # fmt: skip
_TABLE = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"
_HEADER = {"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS",
           "IsOfficial": "OFFICIAL"}  # fmt: skip


@handles(SEARCH)
def search(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.filterflag import parse_filters
    from dockyard.cli.network import list_rows

    params: dict[str, Any] = {"term": args[0]}
    if opts["limit"]:
        params["limit"] = str(opts["limit"])
    if opts["filter"]:
        params["filters"] = parse_filters(list(opts["filter"]))
    found = cli.client.get("/images/search", params) or []
    # as docker's search context: a JSON format gets true/false, a table [OK] or nothing
    as_json = "json" in (opts["format"] or "")
    rows = []
    for r in found:
        text = (r.get("description") or "").replace("\n", " ")
        official = bool(r.get("is_official"))
        rows.append({  # in sorted order: docker prints `{{json .}}` with sorted keys
            "Description": text if opts["no_trunc"] else ellipsis(text, 45),
            "IsOfficial": str(official).lower() if as_json else ("[OK]" if official else ""),
            "Name": r.get("name", ""),
            "StarCount": str(r.get("star_count") or 0),
        })  # fmt: skip
    return list_rows(cli, {**opts, "quiet": False}, rows, _TABLE, _HEADER, "")


COMMANDS = command_table(search)
