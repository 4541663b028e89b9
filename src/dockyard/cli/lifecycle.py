"""Container life-cycle commands beyond run/stop: `update` and `events`."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING
from urllib.parse import quote

from dockyard.cli.container import _each, parse_restart
from dockyard.cli.flags import INT, LIST, STRING, Command, Flag
from dockyard.cli.template import TemplateError, render
from dockyard.cli.timeflags import since_until
from dockyard.proto.units import ram_in_bytes

if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.main import Cli

UPDATE = Command(
    "update",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Update configuration of one or more containers",
    (
        Flag(
            "restart",
            "",
            STRING,
            "Restart policy to apply when a container exits",
            metavar="string",
        ),
        Flag("cpu-shares", "c", INT, "CPU shares (relative weight)", metavar="int"),
        Flag("memory", "m", STRING, "Memory limit", 0, "bytes", convert=ram_in_bytes),
        Flag(
            "pids-limit", "", INT, "Tune container pids limit (set -1 for unlimited)", metavar="int"
        ),
    ),
    min_args=1,
)

EVENTS = Command(
    "events",
    "[OPTIONS]",
    "Get real time events from the server",
    (
        Flag("filter", "f", LIST, "Filter output based on conditions provided", metavar="filter"),
        Flag("format", "", STRING, "Format output using a custom template", metavar="string"),
        Flag("since", "", STRING, "Show all events created since timestamp", metavar="string"),
        Flag("until", "", STRING, "Stream events until this timestamp", metavar="string"),
    ),
)


def update_body(opts: dict[str, Any]) -> dict[str, Any]:
    """POST /containers/{id}/update's body; --memory is go-units (parsed by its flag, as `run`)."""
    body: dict[str, Any] = {}
    if opts["restart"]:
        body["RestartPolicy"] = parse_restart(opts["restart"])
    if opts["cpu_shares"] is not None:
        body["CpuShares"] = opts["cpu_shares"]
    if opts["memory"]:
        body["Memory"] = opts["memory"]
    if opts["pids_limit"] is not None:
        body["PidsLimit"] = opts["pids_limit"]
    return body


def update(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    body = update_body(opts)

    def one(name: str) -> str:
        result = cli.client.post(f"/containers/{quote(name)}/update", json_body=body) or {}
        for warning in result.get("Warnings") or []:
            cli.err(f"{warning}\n")
        return name

    return _each(cli, args, one, "update")


def _filters(items: list[str]) -> str | None:
    out: dict[str, list[str]] = {}
    for item in items:
        key, _, value = item.partition("=")
        out.setdefault(key, []).append(value)
    return json.dumps(out) if out else None


def _line(ev: dict[str, Any]) -> str:
    """docker's default events line: time type action id (attributes)."""
    nano = ev.get("timeNano", 0)
    secs, frac = divmod(nano, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(secs)) + f".{frac:09d}"
    stamp += time.strftime("%z", time.localtime(secs))[:3] + ":" + time.strftime("%z")[3:]
    actor = ev.get("Actor") or {}
    attrs = ", ".join(f"{k}={v}" for k, v in sorted((actor.get("Attributes") or {}).items()))
    return f"{stamp} {ev.get('Type')} {ev.get('Action')} {actor.get('ID', '')}" + (
        f" ({attrs})" if attrs else ""
    )


def events(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    params = {
        **since_until(opts),
        "filters": _filters(opts["filter"]),
    }
    fmt = opts["format"]
    for ev in cli.client.json_stream(cli.client.request("GET", "/events", params)):
        if fmt:
            try:
                cli.out(render(fmt, [ev]))
            except TemplateError as e:
                cli.err(f"template parsing error: {e}\n")
                return 1
        else:
            cli.out(_line(ev) + "\n")
    return 0


COMMANDS = {"update": (UPDATE, update), "events": (EVENTS, events)}
