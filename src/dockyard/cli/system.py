"""`version`, `info` and `inspect`: what the daemon says about itself and its objects."""

from __future__ import annotations

import json
import os
import sys

from dockyard.cli.flags import FORMAT, FORMAT_F, SIZE, STRING, Command, Flag
from dockyard.cli.main import VERSION, Cli, command_table, handles
from dockyard.cli.template import Header, columns_json
from dockyard.client.errors import APIError, ClientError
from dockyard.proto.units import bytes_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def _arch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


def _render_one(cli: Cli, format_text: str, data: Any) -> int:
    from dockyard.cli.template import print_rows

    return print_rows(cli, format_text, [data])


# -- version -------------------------------------------------------------------
VERSION_CMD = Command(
    "version [OPTIONS]", "Show the Dockyard version information", (FORMAT_F,), max_args=0
)

_CLIENT_TEMPLATE = """Client:
 Version:           {Version}
 API version:       {ApiVersion}{downgraded}
 Python version:    {PythonVersion}
 OS/Arch:           {Os}/{Arch}
 Context:           default
"""


@handles(VERSION_CMD)
def version(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.api.version import API_VERSION

    client_info = {
        "Version": VERSION,
        "ApiVersion": API_VERSION,
        "DefaultAPIVersion": API_VERSION,
        "PythonVersion": ".".join(str(n) for n in sys.version_info[:3]),
        "Os": sys.platform,
        "Arch": _arch(),
    }
    server: Any = None
    error: ClientError | None = None
    try:
        negotiated = cli.client.version
        client_info["ApiVersion"] = negotiated
        server = cli.client.get("/version")
    except ClientError as e:
        error = e
    if opts["format"]:
        status = _render_one(cli, opts["format"], {"Client": client_info, "Server": server})
        if error:
            cli.err(f"{error}\n")
            return 1
        return status
    downgraded = ""
    if client_info["ApiVersion"] != API_VERSION:
        downgraded = f" (downgraded from {API_VERSION})"
    cli.out(_CLIENT_TEMPLATE.format(downgraded=downgraded, **client_info))
    if error:
        cli.out("\n")
        cli.err(f"{error}\n")
        return 1
    cli.out("\n" + format_server_version(server))
    return 0


def format_server_version(server: dict[str, Any]) -> str:
    """docker's Server section: the Engine component, then the others' details."""
    name = (server.get("Platform") or {}).get("Name", "")
    lines = ["Server:" + (f" {name}" if name else "")]
    components = server.get("Components") or [
        {"Name": "Engine", "Version": server.get("Version", ""), "Details": {}}
    ]
    for component in components:
        details = component.get("Details") or {}
        lines.append(f" {component.get('Name')}:")
        if component.get("Name") == "Engine":
            d = {**server, **details}
            lines += [
                f"  Version:          {component.get('Version', '')}",
                f"  API version:      {d.get('ApiVersion', '')} (minimum version {d.get('MinAPIVersion', '')})",
                f"  Go version:       {d.get('GoVersion', '')}",
                f"  Git commit:       {d.get('GitCommit', '')}",
                f"  Built:            {_ansic(d.get('BuildTime', ''))}",
                f"  OS/Arch:          {d.get('Os', '')}/{d.get('Arch', '')}",
                f"  Experimental:     {str(d.get('Experimental', 'false')).lower()}",
            ]
        else:
            entries = [("Version", component.get("Version", ""))] + sorted(details.items())
            lines += [f"  {(k + ':').ljust(18)}{v}" for k, v in entries]
    return "\n".join(lines) + "\n"


def _ansic(timestamp: str) -> str:
    """RFC 3339 -> Go's time.ANSIC (`Thu May  7 21:09:36 2026`), as docker prints Built.

    Via datetime (a C module) rather than time.strptime, whose import costs ~9 ms.
    """
    from datetime import datetime

    try:
        return datetime.fromisoformat(timestamp[:19]).strftime("%a %b %e %H:%M:%S %Y")
    except ValueError:
        return timestamp


# -- info ----------------------------------------------------------------------
INFO = Command("info [OPTIONS]", "Display system-wide information", (FORMAT_F,), max_args=0)


@handles(INFO)
def info(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    data = cli.client.get("/info")
    if opts["format"]:
        return _render_one(cli, opts["format"], data)
    cli.out("Client:\n Context:    default\n Debug Mode: false\n\n" + format_info(data))
    return 0


def format_info(d: dict[str, Any]) -> str:
    lines = [
        "Server:",
        f" Containers: {d.get('Containers', 0)}",
        f"  Running: {d.get('ContainersRunning', 0)}",
        f"  Paused: {d.get('ContainersPaused', 0)}",
        f"  Stopped: {d.get('ContainersStopped', 0)}",
        f" Images: {d.get('Images', 0)}",
        f" Server Version: {d.get('ServerVersion', '')}",
        f" Storage Driver: {d.get('Driver', '')}",
    ]
    lines += [f"  {k}: {v}" for k, v in d.get("DriverStatus") or []]
    lines += [
        f" Logging Driver: {d.get('LoggingDriver', '')}",
        f" Cgroup Driver: {d.get('CgroupDriver', '')}",
        f" Cgroup Version: {d.get('CgroupVersion', '')}",
    ]
    runtimes = d.get("Runtimes") or {}
    if runtimes:
        lines.append(" Runtimes: " + " ".join(sorted(runtimes)))
    lines += [
        f" Default Runtime: {d.get('DefaultRuntime', '')}",
        f" Kernel Version: {d.get('KernelVersion', '')}",
        f" Operating System: {d.get('OperatingSystem', '')}",
        f" OSType: {d.get('OSType', '')}",
        f" Architecture: {d.get('Architecture', '')}",
        f" CPUs: {d.get('NCPU', 0)}",
        f" Total Memory: {bytes_size(d.get('MemTotal', 0))}",
        f" Name: {d.get('Name', '')}",
        f" ID: {d.get('ID', '')}",
        f" Docker Root Dir: {d.get('DockerRootDir', '')}",
        f" Debug Mode: {str(d.get('Debug', False)).lower()}",
        f" Experimental: {str(d.get('ExperimentalBuild', False)).lower()}",
        f" Live Restore Enabled: {str(d.get('LiveRestoreEnabled', False)).lower()}",
    ]
    for warning in d.get("Warnings") or []:
        lines.append(warning)
    return "\n".join(lines) + "\n"


# -- inspect -------------------------------------------------------------------
INSPECT = Command(
    "inspect [OPTIONS] NAME|ID [NAME|ID...]",
    "Return low-level information on Dockyard objects",
    (
        FORMAT_F,
        Flag("size", "s", help="Display total file sizes if the type is container"),
        Flag("type", "", STRING, "Return JSON for specified type", metavar="string"),
    ),
    min_args=1,
)
CONTAINER_INSPECT = Command(
    "container inspect [OPTIONS] CONTAINER [CONTAINER...]",
    "Display detailed information on one or more containers",
    (FORMAT_F, SIZE),
    min_args=1,
)
IMAGE_INSPECT = Command(
    "image inspect [OPTIONS] IMAGE [IMAGE...]",
    "Display detailed information on one or more images",
    (FORMAT_F,),
    min_args=1,
)
_KINDS = {
    "container": ("/containers/{}/json", "No such container: {}"),
    "image": ("/images/{}/json", "No such image: {}"),
}


def _fetch(cli: Cli, kinds: list[str], name: str, size: bool) -> Any:
    from dockyard.client.http import quote

    for kind in kinds:
        path = _KINDS[kind][0].format(quote(name, safe="/:@"))
        try:
            return cli.client.get(path, {"size": True} if size and kind == "container" else None)
        except APIError as e:
            if not e.not_found:
                raise
            if len(kinds) == 1:  # `image inspect`, `container inspect`: the daemon's words
                raise LookupError(str(e)) from None
    raise LookupError(f"Error: No such object: {name}")


@handles(INSPECT)
def inspect(cli: Cli, opts: dict[str, Any], args: list[str], kinds: list[str] | None = None) -> int:
    if kinds is None:
        kind = opts.get("type") or ""
        if kind and kind not in _KINDS:
            cli.err(f'"{kind}" is not a valid value for --type\n')
            return 1
        kinds = [kind] if kind else ["container", "image"]
    return inspect_each(
        cli, opts["format"], args, lambda name: _fetch(cli, kinds, name, opts.get("size", False))
    )


@handles(CONTAINER_INSPECT)
def container_inspect(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    return inspect(cli, opts, args, ["container"])


@handles(IMAGE_INSPECT)
def image_inspect(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    return inspect(cli, opts, args, ["image"])


def inspect_each(
    cli: Cli, format_text: str | None, names: list[str], fetch: Callable[[str], Any]
) -> int:
    """docker's inspect.Inspect, for every `inspect` command: fetch each name, print
    what was found (indented JSON, or each through --format), then what was not
    (each LookupError's message); exit 1 if anything was not found."""
    found, errors = [], []
    for name in names:
        try:
            found.append(fetch(name))
        except LookupError as e:
            errors.append(str(e))
    from dockyard.cli.template import print_inspected

    if print_inspected(cli, format_text, found):
        return 1
    for error in errors:
        cli.err(f"{error}\n")
    return 1 if errors else 0


# -- system df -----------------------------------------------------------------
DF = Command(
    "system df [OPTIONS]",
    "Show disk usage",
    (
        FORMAT,
        Flag("verbose", "v", help="Show detailed information on space usage"),
    ),
    max_args=0,
)
DF_TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
_DF_HEADERS = {
    "Type": "TYPE",
    "TotalCount": "TOTAL",
    "Active": "ACTIVE",
    "Size": "SIZE",
    "Reclaimable": "RECLAIMABLE",
}


class DfRow:
    """One row of `system df`, docker's diskUsage*Context (sizes by go-units HumanSize)."""

    def __init__(self, kind: str, total: int, active: int, size: int, reclaimable: int) -> None:
        self.kind, self.total, self.active = kind, total, active
        self.size, self.reclaimable = size, reclaimable

    def template_field(self, name: str) -> Any:
        from dockyard.cli.format import human_size

        if name == "Type":
            return self.kind
        if name == "TotalCount":
            return str(self.total)
        if name == "Active":
            return str(self.active)
        if name == "Size":
            return human_size(self.size, 4)
        if name == "Reclaimable":
            text = human_size(self.reclaimable, 4)
            if self.kind != "Build Cache" and self.size > 0:
                text += f" ({self.reclaimable * 100 // self.size}%)"
            return text
        raise KeyError(name)

    def template_json(self) -> dict[str, Any]:
        return columns_json(self, _DF_HEADERS)


def df_rows(d: dict[str, Any]) -> list[DfRow]:
    """The four summary rows from a /system/df answer, with docker's reclaimable rules."""
    images = d.get("Images") or []
    layers_size = d.get("LayersSize") or 0
    used = sum(
        (i.get("Size") or 0) - i["SharedSize"]
        for i in images
        if i.get("Containers") and i.get("SharedSize", -1) != -1
    )
    containers = d.get("Containers") or []
    running = [c for c in containers if c.get("State") in ("running", "paused", "restarting")]
    c_size = sum(c.get("SizeRw") or 0 for c in containers)
    c_used = sum(c.get("SizeRw") or 0 for c in running)
    volumes = d.get("Volumes") or []
    v_size = sum(max(0, (v.get("UsageData") or {}).get("Size", 0)) for v in volumes)
    v_active = [v for v in volumes if (v.get("UsageData") or {}).get("RefCount", 0) > 0]
    v_used = sum(max(0, (v.get("UsageData") or {}).get("Size", 0)) for v in v_active)
    cache = d.get("BuildCache") or []
    b_size = sum(b.get("Size") or 0 for b in cache if not b.get("Shared"))
    b_used = sum(b.get("Size") or 0 for b in cache if b.get("InUse") and not b.get("Shared"))
    return [
        DfRow(
            "Images",
            len(images),
            sum(1 for i in images if i.get("Containers")),
            layers_size,
            layers_size - used,
        ),
        DfRow("Containers", len(containers), len(running), c_size, c_size - c_used),
        DfRow("Local Volumes", len(volumes), len(v_active), v_size, v_size - v_used),
        DfRow(
            "Build Cache",
            len(cache),
            sum(1 for b in cache if b.get("InUse")),
            b_size,
            b_size - b_used,
        ),
    ]


@handles(DF)
def system_df(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.template import print_rows

    data = cli.client.get("/system/df") or {}
    if opts["verbose"] and not opts["format"]:
        return _df_verbose(cli, data)
    fmt = opts["format"] or "table"
    if fmt == "table":
        fmt = DF_TABLE
    return print_rows(cli, fmt, df_rows(data), Header(_DF_HEADERS))


def _df_size(size: int) -> str:
    from dockyard.cli.format import human_size

    return "N/A" if size < 0 else human_size(size, 4)


def _df_verbose(cli: Cli, d: dict[str, Any]) -> int:
    """`system df -v`: the images, containers, volumes and cache, one table each."""
    from dockyard.cli.format import human_size, since, tabwrite
    from dockyard.cli.image import image_rows

    out = ["Images space usage:\n\n"]
    table = ["REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS"]
    for row in image_rows(d.get("Images") or [], False, True):
        f = row.template_field
        table.append(
            "\t".join(
                [f("Repository"), f("Tag"), f("ID"), f("CreatedSince"), f("Size")]
                + [_df_size(row.i.get("SharedSize", -1))]
                + [_df_size((row.i.get("Size") or 0) - max(0, row.i.get("SharedSize", 0)))]
                + [str(row.i.get("Containers", 0))]
            )
        )
    out.append(tabwrite("\n".join(table) + "\n"))
    out.append("\nContainers space usage:\n\n")
    table = ["CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES"]
    for c in d.get("Containers") or []:
        command = c.get("Command", "")
        command = json.dumps(
            command if len(command) <= 20 else command[:19] + "…", ensure_ascii=False
        )
        table.append(
            "\t".join(
                [
                    c["Id"][:12],
                    c.get("Image", ""),
                    command,
                    str(sum(1 for m in c.get("Mounts") or [] if m.get("Type") == "volume")),
                    human_size(c.get("SizeRw") or 0),
                    since(c.get("Created", 0)),
                    c.get("Status", ""),
                    ",".join(n.lstrip("/") for n in c.get("Names") or []),
                ]
            )
        )
    out.append(tabwrite("\n".join(table) + "\n"))
    out.append("\nLocal Volumes space usage:\n\n")
    table = ["VOLUME NAME\tLINKS\tSIZE"]
    for v in d.get("Volumes") or []:
        u = v.get("UsageData") or {}
        table.append(f"{v.get('Name', '')}\t{u.get('RefCount', 0)}\t{human_size(u.get('Size', 0))}")
    out.append(tabwrite("\n".join(table) + "\n"))
    out.append("\nBuild cache usage: 0B\n\n")
    table = ["CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED"]
    out.append(tabwrite("\n".join(table) + "\n"))
    cli.out("".join(out))
    return 0


COMMANDS = command_table(system_df, version, info, inspect, container_inspect, image_inspect)
