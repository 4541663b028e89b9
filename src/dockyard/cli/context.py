"""`dockyard context ls` and `context show`: the contexts the docker CLI keeps
(`$DOCKER_CONFIG/contexts/meta/*/meta.json`, the current one in config.json's
`currentContext`), beside `default`, whose endpoint is where this CLI connects
(-H, $DOCKYARD_HOST, the default socket). Printed as `docker context ls` prints."""

from __future__ import annotations

import json
import os
from typing import Any

from dockyard.cli.flags import BOOL, FORMAT, Command, Flag
from dockyard.cli.main import Cli, command_table, handles

LS = Command(
    "context ls [OPTIONS]", "List contexts",
    (FORMAT,
     Flag("quiet", "q", BOOL, "Only show context names")),
    max_args=0,
)  # fmt: skip
SHOW = Command("context show", "Print the name of the current context", max_args=0)
_DEFAULT_DESCRIPTION = "Current DOCKER_HOST based configuration"
_TABLE = "table {{.Name}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}"
_HEADER = {"Name": "NAME", "Description": "DESCRIPTION", "DockerEndpoint": "DOCKER ENDPOINT",
           "Error": "ERROR"}  # fmt: skip


def _config_dir() -> str:
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def current() -> str:
    try:
        with open(os.path.join(_config_dir(), "config.json")) as f:
            name = json.load(f).get("currentContext") or ""
    except (OSError, ValueError):
        name = ""
    return os.environ.get("DOCKER_CONTEXT") or name or "default"


def _stored() -> list[dict[str, Any]]:
    meta = os.path.join(_config_dir(), "contexts", "meta")
    out = []
    for entry in sorted(os.listdir(meta)) if os.path.isdir(meta) else []:
        try:
            with open(os.path.join(meta, entry, "meta.json")) as f:
                out.append(json.load(f))
        except (OSError, ValueError):
            continue
    return out


@handles(LS)
def ls(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.network import list_rows
    from dockyard.client.api import resolve_host

    now = current()
    rows = [{"Current": now == "default", "Description": _DEFAULT_DESCRIPTION,
             "DockerEndpoint": resolve_host(cli.host_flag, os.environ), "Error": "",
             "Name": "default"}]  # fmt: skip
    for c in _stored():
        rows.append({
            "Current": now == c.get("Name"),
            "Description": (c.get("Metadata") or {}).get("Description", ""),
            "DockerEndpoint": ((c.get("Endpoints") or {}).get("docker") or {}).get("Host", ""),
            "Error": "", "Name": c.get("Name", ""),
        })  # fmt: skip
    rows.sort(key=lambda r: r["Name"])
    if not opts["format"] and not opts["quiet"]:  # the table marks the current one
        rows = [{**r, "Name": r["Name"] + (" *" if r["Current"] else "")} for r in rows]
    return list_rows(cli, opts, rows, _TABLE, _HEADER, "{{.Name}}")


@handles(SHOW)
def show(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    cli.out(current() + "\n")
    return 0


COMMANDS = command_table(ls, show)
