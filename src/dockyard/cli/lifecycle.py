"""Container life-cycle commands beyond run/create/start: `stop`, `restart`, `kill`,
`rm`, `wait` (each applied to every container named, as `each` does), `update` and
`events`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from urllib.parse import quote

from dockyard.cli.filterflag import filter_flag, parse_filters
from dockyard.cli.flags import BOOL, FORMAT, INT, STRING, Command, Flag
from dockyard.cli.main import command_table, handles
from dockyard.cli.runspecs import parse_restart_policy
from dockyard.cli.template import TemplateError, render
from dockyard.cli.timeflags import since_until
from dockyard.client.errors import APIError
from dockyard.proto.units import ram_in_bytes

if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.main import Cli


def each(cli: Cli, names: list[str], action: Any, verb: str | None = None) -> int:
    """Apply `action` to each name, echo the name (or what `action` returns, nothing for
    ""); errors last, exit 1 (`verb`: docker's closing `failed to <verb> containers`
    line, which only `start` prints)."""
    errors, failed = [], []
    for name in names:
        try:
            result = action(name)
        except APIError as e:
            errors.append(str(e))
            failed.append(name)
            continue
        if result != "":
            cli.out(f"{name if result is None else result}\n")
    if errors:
        if verb:
            errors.append(f"Error: failed to {verb} containers: {', '.join(failed)}")
        cli.err("\n".join(errors) + "\n")
        return 1
    return 0


STOP = Command(
    "stop [OPTIONS] CONTAINER [CONTAINER...]",
    "Stop one or more running containers",
    (
        Flag("signal", "s", STRING, "Signal to send to the container", metavar="string"),
        Flag("time", "t", INT, "Seconds to wait before killing the container", metavar="int"),
    ),
    min_args=1,
)
RESTART = Command(
    "restart [OPTIONS] CONTAINER [CONTAINER...]",
    "Restart one or more containers",
    STOP.flags,
    min_args=1,
)
KILL = Command(
    "kill [OPTIONS] CONTAINER [CONTAINER...]",
    "Kill one or more running containers",
    (Flag("signal", "s", STRING, "Signal to send to the container", "KILL", "string"),),
    min_args=1,
)
RM = Command(
    "rm [OPTIONS] CONTAINER [CONTAINER...]",
    "Remove one or more containers",
    (
        Flag("force", "f", BOOL, "Force the removal of a running container (uses SIGKILL)"),
        Flag("link", "l", BOOL, "Remove the specified link"),
        Flag("volumes", "v", BOOL, "Remove anonymous volumes associated with the container"),
    ),
    min_args=1,
)
WAIT = Command(
    "wait CONTAINER [CONTAINER...]",
    "Block until one or more containers stop, then print their exit codes",
    min_args=1,
)


def _stop_params(opts: dict[str, Any]) -> dict[str, Any]:
    return {"t": opts["time"], "signal": opts["signal"] or None}


@handles(STOP)
def stop(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    params = _stop_params(opts)
    return each(cli, args, lambda n: cli.client.post(f"/containers/{quote(n)}/stop", params))


@handles(RESTART)
def restart(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    params = _stop_params(opts)
    return each(cli, args, lambda n: cli.client.post(f"/containers/{quote(n)}/restart", params))


@handles(KILL)
def kill(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    params = {"signal": opts["signal"]}
    return each(cli, args, lambda n: cli.client.post(f"/containers/{quote(n)}/kill", params))


@handles(RM)
def rm(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    params = {
        "force": opts["force"] or None,
        "v": opts["volumes"] or None,
        "link": opts["link"] or None,
    }
    # as docker's CLI: names are trimmed of "/" (a link is parent/alias in the path)
    return each(
        cli, args, lambda n: cli.client.delete(f"/containers/{quote(n.strip('/'))}", params)
    )


@handles(WAIT)
def wait(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    def one(name: str) -> str:
        result = cli.client.post(f"/containers/{quote(name)}/wait") or {}
        return str(result.get("StatusCode", ""))

    return each(cli, args, one)


UPDATE = Command(
    "update [OPTIONS] CONTAINER [CONTAINER...]",
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
    "events [OPTIONS]",
    "Get real time events from the server",
    (
        filter_flag("Filter output based on conditions provided"),
        FORMAT,
        Flag("since", "", STRING, "Show all events created since timestamp", metavar="string"),
        Flag("until", "", STRING, "Stream events until this timestamp", metavar="string"),
    ),
)


def update_body(opts: dict[str, Any]) -> dict[str, Any]:
    """POST /containers/{id}/update's body; --memory is go-units (parsed by its flag, as `run`)."""
    body: dict[str, Any] = {}
    if opts["restart"]:  # read as `run` reads it; the name is the daemon's to check
        body["RestartPolicy"] = parse_restart_policy(opts["restart"])
    if opts["cpu_shares"] is not None:
        body["CpuShares"] = opts["cpu_shares"]
    if opts["memory"]:
        body["Memory"] = opts["memory"]
    if opts["pids_limit"] is not None:
        body["PidsLimit"] = opts["pids_limit"]
    return body


@handles(UPDATE)
def update(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    try:
        body = update_body(opts)
    except ValueError as e:  # as docker's runUpdate: the error alone, exit 1
        cli.err(f"{e}\n")
        return 1

    def one(name: str) -> str:
        result = cli.client.post(f"/containers/{quote(name)}/update", json_body=body) or {}
        for warning in result.get("Warnings") or []:
            cli.err(f"{warning}\n")
        return name

    return each(cli, args, one)


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


@handles(EVENTS)
def events(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    params = {
        **since_until(opts),
        "filters": parse_filters(opts["filter"]),
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


COMMANDS = command_table(stop, restart, kill, rm, wait, update, events)
