"""`dockyard port` and every prune command (container, image, volume, network, builder,
system), printed as the docker CLI prints them (its port mapping lines; the prune
reports' sections and "Total reclaimed space"). One home for the prune sequence:
filters, then docker's confirmation prompt unless --force, then the report."""

from __future__ import annotations

import sys
from typing import Any

from dockyard.cli.filterflag import filter_flag
from dockyard.cli.flags import BOOL, Command, Flag
from dockyard.cli.format import human_size
from dockyard.cli.main import Cli, command_table, handles
from dockyard.client.http import quote

PORT = Command(
    "port CONTAINER [PRIVATE_PORT[/PROTO]]",
    "List port mappings or a specific mapping for the container", min_args=1, max_args=2,
)  # fmt: skip
_FILTER = filter_flag('Provide filter values (e.g. "until=<timestamp>")', "")  # fmt: skip
_FORCE = Flag("force", "f", BOOL, "Do not prompt for confirmation")
IMAGE_PRUNE = Command(
    "image prune [OPTIONS]", "Remove unused images",
    (Flag("all", "a", BOOL, "Remove all unused images, not just dangling ones"), _FILTER, _FORCE),
    max_args=0,
)  # fmt: skip
VOLUME_PRUNE = Command(
    "volume prune [OPTIONS]", "Remove unused local volumes",
    (Flag("all", "a", BOOL, "Remove all unused volumes, not just anonymous ones"),
     filter_flag('Provide filter values (e.g. "label=<label>")', ""), _FORCE),
    max_args=0,
)  # fmt: skip
NETWORK_PRUNE = Command("network prune [OPTIONS]", "Remove all unused networks",
                        (_FILTER, _FORCE), max_args=0)  # fmt: skip
CONTAINER_PRUNE = Command("container prune [OPTIONS]", "Remove all stopped containers",
                          (_FILTER, _FORCE), max_args=0)  # fmt: skip
BUILDER_PRUNE = Command(
    "builder prune [OPTIONS]", "Remove build cache",
    (Flag("all", "a", BOOL, "Remove all unused build cache, not just dangling ones"), _FILTER,
     _FORCE),
    max_args=0,
)  # fmt: skip
SYSTEM_PRUNE = Command(
    "system prune [OPTIONS]", "Remove unused data",
    (Flag("all", "a", BOOL, "Remove all unused images not just dangling ones"), _FILTER, _FORCE,
     Flag("volumes", "", BOOL, "Prune anonymous volumes")),
    max_args=0,
)  # fmt: skip


@handles(PORT)
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


def confirm(cli: Cli, message: str) -> bool:
    """docker's PromptForConfirmation: anything but y/Y (or no input) is a no."""
    cli.out(message + "Are you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() == "y"


def _filters(opts: dict[str, Any], *more: str) -> str | None:
    """The --filter values (and `more`) as the JSON the API takes (None: no filter)."""
    from dockyard.cli.filterflag import parse_filters

    return parse_filters([*opts["filter"], *more])


def _prune(
    cli: Cli, opts: dict[str, Any], warning: str, path: str, query: dict[str, Any], key: str
) -> int:
    """Ask as docker does (unless --force), prune, print what went and the space freed."""
    if not opts["force"] and not confirm(cli, warning):
        return 0
    report = cli.client.post(path, query) or {}
    cli.out(_section(report, key) + _reclaimed(report.get("SpaceReclaimed") or 0))
    return 0


# the report's list of what was deleted -> the title docker prints above it
_TITLES = {
    "ContainersDeleted": "Deleted Containers",
    "ImagesDeleted": "Deleted Images",
    "VolumesDeleted": "Deleted Volumes",
    "NetworksDeleted": "Deleted Networks",
    "CachesDeleted": "Deleted build cache objects",
}


def _section(report: dict[str, Any], key: str) -> str:
    """What a prune deleted, under docker's title and with a blank line after ("" for nothing)."""
    lines = _deleted_images(report) if key == "ImagesDeleted" else report.get(key) or []
    return f"{_TITLES[key]}:\n" + "".join(i + "\n" for i in lines) + "\n" if lines else ""


def _reclaimed(space: int) -> str:
    return f"Total reclaimed space: {human_size(space, 4)}\n"


def _deleted_images(report: dict[str, Any]) -> list[str]:
    lines = []
    for item in report.get("ImagesDeleted") or []:
        if item.get("Untagged"):
            lines.append(f"untagged: {item['Untagged']}")
        if item.get("Deleted"):
            lines.append(f"deleted: {item['Deleted']}")
    return lines


@handles(CONTAINER_PRUNE)
def container_prune(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    warning = "WARNING! This will remove all stopped containers.\n"
    query = {"filters": _filters(opts)}
    return _prune(cli, opts, warning, "/containers/prune", query, "ContainersDeleted")


@handles(IMAGE_PRUNE)
def image_prune(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    query = {"filters": _filters(opts, *(["dangling=false"] if opts["all"] else []))}
    warning = (
        "WARNING! This will remove all images without at least one container associated to them.\n"
        if opts["all"]
        else "WARNING! This will remove all dangling images.\n"
    )
    return _prune(cli, opts, warning, "/images/prune", query, "ImagesDeleted")


@handles(VOLUME_PRUNE)
def volume_prune(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    query = {"filters": _filters(opts, *(["all=true"] if opts["all"] else []))}
    warning = "WARNING! This will remove anonymous local volumes not used by at least one"
    warning += " container.\n"
    return _prune(cli, opts, warning, "/volumes/prune", query, "VolumesDeleted")


@handles(NETWORK_PRUNE)
def network_prune(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    filters = _filters(opts)
    warning = "WARNING! This will remove all custom networks not used by at least one container.\n"
    if not opts["force"] and not confirm(cli, warning):
        return 0
    report = cli.client.post("/networks/prune", {"filters": filters}) or {}
    # as docker: no blank line and no total after it (networks take no space)
    cli.out(_section(report, "NetworksDeleted").removesuffix("\n"))
    return 0


@handles(BUILDER_PRUNE)
def builder_prune(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    what = "all build cache" if opts["all"] else "all dangling build cache"
    query = {"filters": _filters(opts), "all": "1" if opts["all"] else None}
    warning = f"WARNING! This will remove {what}.\n"
    return _prune(cli, opts, warning, "/build/prune", query, "CachesDeleted")


@handles(SYSTEM_PRUNE)
def system_prune(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    warning = "WARNING! This will remove:\n  - all stopped containers\n"
    warning += "  - all networks not used by at least one container\n"
    if opts["volumes"]:
        warning += "  - all anonymous volumes not used by at least one container\n"
    warning += ("  - all images without at least one container associated to them\n"
                if opts["all"] else "  - all dangling images\n")  # fmt: skip
    warning += "  - unused build cache\n\n"
    q = {"filters": _filters(opts)}
    if not opts["force"] and not confirm(cli, warning):
        return 0
    dangling = "dangling=false" if opts["all"] else "dangling=true"
    steps = [
        ("/containers/prune", q, "ContainersDeleted"),
        *([("/volumes/prune", q, "VolumesDeleted")] if opts["volumes"] else []),
        ("/networks/prune", q, "NetworksDeleted"),
        ("/images/prune", {"filters": _filters(opts, dangling)}, "ImagesDeleted"),
        ("/build/prune", {"all": "1" if opts["all"] else None}, "CachesDeleted"),
    ]
    out, space = "", 0
    for path, query, key in steps:
        report = cli.client.post(path, query) or {}
        out += _section(report, key)
        space += report.get("SpaceReclaimed") or 0
    cli.out(out + _reclaimed(space))
    return 0


COMMANDS = command_table(
    port, container_prune, image_prune, volume_prune, network_prune, system_prune, builder_prune
)
