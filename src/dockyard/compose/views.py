"""Read-only compose commands: config, ps, logs, top, port, images, ls, version, events.

Output follows Compose v2: `ps` and `ls` as tab-aligned tables (or JSON lines with
`--format json`), logs with padded `service-N  | ` prefixes.
"""

from __future__ import annotations

import json
import re
import sys

from dockyard.compose import labels, logs, output
from dockyard.compose.commands import Context
from dockyard.compose.errors import ComposeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _write(text: str) -> None:
    sys.stdout.write(text)


def cmd_config(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    project = ctx.project(args)
    if args:
        project = project.with_services(args)
    if opts["quiet"]:
        return 0
    if opts["services"]:
        _write("".join(f"{n}\n" for n in sorted(project.services)))
        return 0
    if opts["volumes"]:
        _write("".join(f"{n}\n" for n in sorted(project.volumes)))
        return 0
    if opts["networks"]:
        _write("".join(f"{n}\n" for n in sorted(project.networks)))
        return 0
    if opts["profiles"]:
        every = [*project.services.values(), *project.disabled.values()]
        _write("".join(f"{p}\n" for p in sorted({p for s in every for p in s.profiles})))
        return 0
    if opts["images"]:
        from dockyard.compose.convert import image_name

        _write("".join(f"{image_name(project, s)}\n" for _, s in sorted(project.services.items())))
        return 0
    doc = output.document(project)
    if opts["format"] == "json":
        text = output.to_json(doc)
    elif opts["format"] in ("yaml", "", None):
        text = output.to_yaml(doc)
    else:
        raise ComposeError(f"unsupported format {opts['format']!r}")
    text = output.escape_dollars(text)
    if opts["output"]:
        with open(opts["output"], "w") as f:
            f.write(text)
    else:
        _write(text)
    return 0


def _status(c: dict[str, Any]) -> str:
    return c.get("Status", "")


def _health(status: str) -> str:
    """The Health of a `ps --format json` row, from the Status text the daemon gives."""
    for text, health in (("(healthy)", "healthy"), ("(unhealthy)", "unhealthy"),
                         ("(health: starting)", "starting")):  # fmt: skip
        if text in status:
            return health
    return ""


def _exit_code(status: str) -> int:
    m = re.match(r"Exited \((-?\d+)\)", status)
    return int(m.group(1)) if m else 0


def _command(c: dict[str, Any], trunc: bool) -> str:
    from dockyard.cli.format import ellipsis

    cmd = c.get("Command", "")
    return f'"{ellipsis(cmd, 20) if trunc else cmd}"'


def cmd_ps(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.format import display_ports, since, tabwrite

    project = ctx.project(args)
    containers = ctx.ops(project).containers(args or None, all=True,
                                             oneoff=None if opts["all"] else False)  # fmt: skip
    if not opts["all"]:
        containers = [
            c for c in containers if c.get("State") in ("running", "paused", "restarting")
        ]
    statuses = list(opts["status"])
    if opts["filter"]:
        key, _, value = opts["filter"].partition("=")
        if key != "status":
            raise ComposeError(f"unknown filter {key}")
        statuses.append(value)
    if statuses:
        containers = [c for c in ctx.ops(project).containers(args or None, oneoff=None)
                      if c.get("State") in statuses]  # fmt: skip
    if opts["services"]:
        _write("".join(f"{s}\n" for s in dict.fromkeys(
            (c.get("Labels") or {}).get(labels.SERVICE, "") for c in containers)))  # fmt: skip
        return 0
    if opts["quiet"]:
        _write("".join(f"{c['Id']}\n" for c in containers))
        return 0
    rows = []
    for c in containers:
        lbl = c.get("Labels") or {}
        rows.append({
            "ID": c["Id"], "Name": c["Names"][0].lstrip("/"), "Image": c.get("Image", ""),
            "Command": c.get("Command", ""), "Project": lbl.get(labels.PROJECT, ""),
            "Service": lbl.get(labels.SERVICE, ""), "Created": c.get("Created", 0),
            "State": c.get("State", ""), "Status": _status(c), "Health": _health(_status(c)),
            "ExitCode": _exit_code(_status(c)), "Publishers": [
                {"URL": p.get("IP", ""), "TargetPort": p.get("PrivatePort"),
                 "PublishedPort": p.get("PublicPort", 0), "Protocol": p.get("Type", "tcp")}
                for p in c.get("Ports") or []],
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(lbl.items())),
            "_c": c,
        })  # fmt: skip
    fmt = opts["format"] or "table"
    if fmt == "json":
        for r in rows:
            r.pop("_c")
            _write(json.dumps(r, separators=(",", ":")) + "\n")
        return 0
    if fmt != "table":
        from dockyard.cli.template import TemplateError, render

        for r in rows:
            r.pop("_c")
        try:
            _write(render(fmt, rows))
        except TemplateError as e:
            raise ComposeError(str(e)) from None
        return 0
    lines = ["NAME\tIMAGE\tCOMMAND\tSERVICE\tCREATED\tSTATUS\tPORTS"]
    for r in rows:
        c = r["_c"]
        lines.append("\t".join([r["Name"], r["Image"], _command(c, not opts["no_trunc"]),
                                r["Service"], since(r["Created"]), r["Status"],
                                display_ports(c.get("Ports") or [])]))  # fmt: skip
    _write(tabwrite("\n".join(lines)) + "\n")
    return 0


def cmd_logs(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    project = ctx.project(args)
    containers = ctx.ops(project).containers(args or None, oneoff=None)
    if opts["index"]:
        from dockyard.compose.plan import number_of

        containers = [c for c in containers if number_of(c) == opts["index"]]
    params: dict[str, Any] = {"stdout": True, "stderr": True, "follow": opts["follow"],
                              "timestamps": opts["timestamps"], "tail": opts["tail"]}  # fmt: skip
    if opts["since"] or opts["until"]:
        from dockyard.cli.timeflags import since_until

        params.update((k, v) for k, v in since_until(opts).items() if v)
    printer = logs.Printer(color=False if opts["no_color"] else None,
                           prefix=not opts["no_log_prefix"])  # fmt: skip
    threads = logs.follow(ctx.api, containers, printer, params)
    for t in threads:
        while t.is_alive():
            t.join(0.5)
    return 0


def _container(ctx: Context, project: Any, service: str, index: int) -> dict[str, Any]:
    from dockyard.compose.plan import number_of

    project.service(service)
    found = [c for c in ctx.api.containers(project.name, True, False, service=service)]
    if not found:
        raise ComposeError(f'service "{service}" is not running')
    if index:
        found = [c for c in found if number_of(c) == index]
        if not found:
            raise ComposeError(f'service "{service}" is not running container #{index}')
    running = [c for c in found if c.get("State") == "running"] or found
    return sorted(running, key=number_of)[0]


def cmd_top(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.format import tabwrite

    project = ctx.project(args)
    for c in ctx.ops(project).containers(args or None):
        if c.get("State") != "running":
            continue
        res = ctx.api.top(c["Id"])
        lines = ["\t".join(res["Titles"])] + ["\t".join(p) for p in res["Processes"] or []]
        _write(f"{c['Names'][0].lstrip('/')}\n" + tabwrite("\n".join(lines)) + "\n\n")
    return 0


def cmd_port(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    project = ctx.project(args[:1])
    c = _container(ctx, project, args[0], opts["index"])
    info = ctx.api.inspect(c["Id"])
    key = f"{args[1]}/{opts['protocol']}"
    bindings = ((info.get("NetworkSettings") or {}).get("Ports") or {}).get(key)
    if not bindings:
        raise ComposeError(f"no port {key} for container {c['Names'][0].lstrip('/')}")
    b = bindings[0]
    _write(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}\n")
    return 0


def cmd_images(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.format import human_size, short_id, split_reference

    project = ctx.project(args)
    containers = ctx.ops(project).containers(args or None)
    rows = []
    for c in containers:
        img = ctx.api.image(c.get("ImageID") or c.get("Image", "")) or {}
        repo, tag = split_reference(c.get("Image", ""))
        rows.append({"ContainerName": c["Names"][0].lstrip("/"), "Repository": repo,
                     "Tag": tag or "latest", "ID": img.get("Id", c.get("ImageID", "")),
                     "Size": img.get("Size", 0)})  # fmt: skip
    return _listing(opts, rows, "ID", ["CONTAINER\tREPOSITORY\tTAG\tIMAGE ID\tSIZE"] + [
        f"{r['ContainerName']}\t{r['Repository']}\t{r['Tag']}\t{short_id(r['ID'])}\t"
        f"{human_size(r['Size'])}" for r in rows])  # fmt: skip


def cmd_ls(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.compose.ops import list_projects

    rows = list_projects(ctx.api, opts["all"])
    for f in opts["filter"]:
        key, _, value = f.partition("=")
        if key != "name":
            raise ComposeError(f"unsupported filter: {key}")
        rows = [r for r in rows if value in r["Name"]]
    return _listing(opts, rows, "Name", ["NAME\tSTATUS\tCONFIG FILES"] + [
        f"{r['Name']}\t{r['Status']}\t{r['ConfigFiles']}" for r in rows])  # fmt: skip


def _listing(opts: dict[str, Any], rows: list[dict[str, Any]], key: str, table: list[str]) -> int:
    """A listing as --quiet (each row's `key`), --format json (the rows) or a table."""
    from dockyard.cli.format import tabwrite

    if opts["quiet"]:
        _write("".join(f"{r[key]}\n" for r in rows))
    elif opts["format"] == "json":
        _write(json.dumps(rows) + "\n")
    else:
        _write(tabwrite("\n".join(table)) + "\n")
    return 0


def cmd_version(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    version = "v" + labels.VERSION
    if opts["short"]:
        _write(labels.VERSION + "\n")
    elif opts["format"] == "json":
        _write(json.dumps({"version": version}) + "\n")
    else:
        _write(f"Docker Compose version {version}\n")
    return 0


def cmd_events(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    project = ctx.project(args)
    filters = json.dumps({"label": [f"{labels.PROJECT}={project.name}"], "type": ["container"]})
    resp = ctx.client.request("GET", "/events", {"filters": filters})
    for ev in ctx.client.json_stream(resp):
        attrs = (ev.get("Actor") or {}).get("Attributes") or {}
        service = attrs.get(labels.SERVICE, "")
        if args and service not in args:
            continue
        out = {"time": ev.get("time"), "type": "container", "action": ev.get("Action"),
               "id": (ev.get("Actor") or {}).get("ID"), "service": service,
               "attributes": {k: v for k, v in attrs.items() if not k.startswith(labels.PREFIX)}}  # fmt: skip
        if opts["json"]:
            _write(json.dumps(out) + "\n")
        else:
            _write(f"container {out['action']} {out['id']} ({service})\n")
        sys.stdout.flush()
    return 0
