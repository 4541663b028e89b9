"""`dockyard port`, `container prune`, `builder prune` and `system prune`, printed as the docker
CLI prints them (its port mapping lines; the prune reports' sections and
"Total reclaimed space")."""

from __future__ import annotations

from typing import Any

from dockyard.cli.filterflag import filter_flag
from dockyard.cli.flags import BOOL, Command, Flag
from dockyard.cli.format import human_size
from dockyard.cli.main import Cli
from dockyard.client.http import quote

PORT = Command(
    "port", "CONTAINER [PRIVATE_PORT[/PROTO]]",
    "List port mappings or a specific mapping for the container", min_args=1, max_args=2,
)  # fmt: skip
_FILTER = filter_flag('Provide filter values (e.g. "until=<timestamp>")', "")  # fmt: skip
_FORCE = Flag("force", "f", BOOL, "Do not prompt for confirmation")
CONTAINER_PRUNE = Command("container prune", "[OPTIONS]", "Remove all stopped containers",
                          (_FILTER, _FORCE), max_args=0)  # fmt: skip
BUILDER_PRUNE = Command(
    "builder prune", "[OPTIONS]", "Remove build cache",
    (Flag("all", "a", BOOL, "Remove all unused build cache, not just dangling ones"), _FILTER,
     _FORCE),
    max_args=0,
)  # fmt: skip
SYSTEM_PRUNE = Command(
    "system prune", "[OPTIONS]", "Remove unused data",
    (Flag("all", "a", BOOL, "Remove all unused images not just dangling ones"), _FILTER, _FORCE,
     Flag("volumes", "", BOOL, "Prune anonymous volumes")),
    max_args=0,
)  # fmt: skip


def port(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    ports = cli.client.get(f"/containers/{quote(args[0])}/json")["NetworkSettings"]["Ports"] or {}
    if len(args) > 1:
        want, _, proto = args[1].partition("/")
        key = f"{want}/{proto or 'tcp'}"
        binds = ports.get(key)
        if not binds:
            cli.err(f"Error: No public port '{args[1]}' published for {args[0]}\n")
            return 1
        cli.out("".join(f"{_addr(b)}\n" for b in binds))
        return 0
    lines = []
    for key in sorted(ports, key=lambda k: (int(k.split("/")[0]), k)):
        lines += [f"{key} -> {_addr(b)}\n" for b in ports[key] or []]
    cli.out("".join(lines))
    return 0


def _addr(b: dict[str, str]) -> str:
    ip = b.get("HostIp") or "0.0.0.0"
    return f"[{ip}]:{b['HostPort']}" if ":" in ip else f"{ip}:{b['HostPort']}"


def _filters(opts: dict[str, Any], *more: str) -> str | None:
    """The --filter values (and `more`) as the JSON the API takes (None: no filter)."""
    from dockyard.cli.filterflag import parse_filters

    return parse_filters([*opts["filter"], *more])


def _section(title: str, ids: list[str]) -> str:
    return f"{title}:\n" + "".join(i + "\n" for i in ids) + "\n" if ids else ""


def container_prune(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.image import confirm

    filters = _filters(opts)
    if not opts["force"] and not confirm(
        cli, "WARNING! This will remove all stopped containers.\n"
    ):
        return 0
    report = cli.client.post("/containers/prune", {"filters": filters}) or {}
    out = _section("Deleted Containers", report.get("ContainersDeleted") or [])
    cli.out(out + f"Total reclaimed space: {human_size(report.get('SpaceReclaimed') or 0, 4)}\n")
    return 0


def builder_prune(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.image import confirm

    filters = _filters(opts)
    what = "all build cache" if opts["all"] else "all dangling build cache"
    if not opts["force"] and not confirm(cli, f"WARNING! This will remove {what}.\n"):
        return 0
    q = {"filters": filters, "all": "1" if opts["all"] else None}
    report = cli.client.post("/build/prune", q) or {}
    out = _section("Deleted build cache objects", report.get("CachesDeleted") or [])
    cli.out(out + f"Total reclaimed space: {human_size(report.get('SpaceReclaimed') or 0, 4)}\n")
    return 0


def system_prune(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.image import confirm

    filters = _filters(opts)
    warning = "WARNING! This will remove:\n  - all stopped containers\n"
    warning += "  - all networks not used by at least one container\n"
    if opts["volumes"]:
        warning += "  - all anonymous volumes not used by at least one container\n"
    warning += ("  - all images without at least one container associated to them\n"
                if opts["all"] else "  - all dangling images\n")  # fmt: skip
    warning += "  - unused build cache\n\n"
    if not opts["force"] and not confirm(cli, warning):
        return 0
    q = {"filters": filters}
    out, space = "", 0
    report = cli.client.post("/containers/prune", q) or {}
    out += _section("Deleted Containers", report.get("ContainersDeleted") or [])
    space += report.get("SpaceReclaimed") or 0
    if opts["volumes"]:
        report = cli.client.post("/volumes/prune", q) or {}
        out += _section("Deleted Volumes", report.get("VolumesDeleted") or [])
        space += report.get("SpaceReclaimed") or 0
    report = cli.client.post("/networks/prune", q) or {}
    out += _section("Deleted Networks", report.get("NetworksDeleted") or [])
    img_filters = _filters(opts, "dangling=false" if opts["all"] else "dangling=true")
    report = cli.client.post("/images/prune", {"filters": img_filters}) or {}
    images = []
    for item in report.get("ImagesDeleted") or []:
        if item.get("Untagged"):
            images.append(f"untagged: {item['Untagged']}")
        if item.get("Deleted"):
            images.append(f"deleted: {item['Deleted']}")
    out += _section("Deleted Images", images)
    space += report.get("SpaceReclaimed") or 0
    report = cli.client.post("/build/prune", {"all": "1" if opts["all"] else None}) or {}
    out += _section("Deleted build cache objects", report.get("CachesDeleted") or [])
    space += report.get("SpaceReclaimed") or 0
    cli.out(out + f"Total reclaimed space: {human_size(space, 4)}\n")
    return 0


COMMANDS = {
    "port": (PORT, port),
    "container prune": (CONTAINER_PRUNE, container_prune),
    "system prune": (SYSTEM_PRUNE, system_prune),
    "builder prune": (BUILDER_PRUNE, builder_prune),
}
