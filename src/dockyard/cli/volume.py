"""Volume commands: volume create, ls, inspect, rm (volume prune is prune.py's)."""

from __future__ import annotations

from dockyard.cli.filterflag import filter_flag
from dockyard.cli.flags import BOOL, DRIVER_OPTS, FORMAT, FORMAT_F, LIST, STRING, Command, Flag
from dockyard.cli.format import human_size
from dockyard.cli.main import Cli, command_table, handles
from dockyard.cli.network import inspect_objects, kv_list, list_rows, remove_each
from dockyard.cli.template import Header, columns_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CREATE = Command(
    "volume create [OPTIONS] [VOLUME]",
    "Create a volume",
    (
        Flag("driver", "d", STRING, "Specify volume driver name", metavar="string"),
        Flag("label", "", LIST, "Set metadata for a volume", metavar="list"),
        Flag("name", "", STRING, "Specify volume name", metavar="string"),
        DRIVER_OPTS,
    ),
    max_args=1,
)


@handles(CREATE)
def create(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    name = args[0] if args else opts["name"] or ""
    body = {
        "Name": name,
        "Driver": opts["driver"] or "local",
        "DriverOpts": kv_list(opts["opt"]),
        "Labels": kv_list(opts["label"]),
    }
    out = cli.client.post("/volumes/create", json_body=body) or {}
    cli.out(out.get("Name", "") + "\n")
    return 0


LS = Command(
    "volume ls [OPTIONS]",
    "List volumes",
    (
        filter_flag('Provide filter values (e.g. "dangling=true")'),
        FORMAT,
        Flag("quiet", "q", BOOL, "Only display volume names"),
    ),
    max_args=0,
)
_LS_TABLE = "table {{.Driver}}\t{{.Name}}"
_HEADERS = {"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT",
            "Scope": "SCOPE", "Labels": "LABELS", "Size": "SIZE", "CreatedAt": "CREATED",
            "Links": "LINKS"}  # fmt: skip


class VolumeRow:
    go_type = "*formatter.volumeContext"

    def __init__(self, v: dict[str, Any]) -> None:
        self.v = v

    def template_field(self, name: str) -> Any:
        v = self.v
        usage = v.get("UsageData") or {}
        fields = {
            "Driver": v.get("Driver", "local"),
            "Name": v["Name"],
            "Mountpoint": v.get("Mountpoint", ""),
            "Scope": v.get("Scope", "local"),
            "Labels": ",".join(f"{k}={x}" for k, x in (v.get("Labels") or {}).items()),
            "Size": human_size(usage["Size"]) if usage.get("Size", -1) >= 0 else "N/A",
            "CreatedAt": v.get("CreatedAt", ""),
            "Links": str(usage["RefCount"]) if usage.get("RefCount", -1) >= 0 else "N/A",
        }
        return fields[name]

    def template_json(self) -> dict[str, Any]:
        return columns_json(self, _HEADERS)


@handles(LS)
def ls(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.filterflag import parse_filters

    filters = parse_filters(list(opts["filter"]))
    found = (cli.client.get("/volumes", {"filters": filters}) or {}).get("Volumes") or []
    rows = [VolumeRow(v) for v in sorted(found, key=lambda v: v["Name"])]
    return list_rows(cli, opts, rows, _LS_TABLE, Header(_HEADERS), "{{.Name}}")


INSPECT = Command(
    "volume inspect [OPTIONS] VOLUME [VOLUME...]",
    "Display detailed information on one or more volumes",
    (FORMAT_F,),
    min_args=1,
)


@handles(INSPECT)
def inspect(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    return inspect_objects(cli, opts, "volumes", args)


RM = Command(
    "volume rm [OPTIONS] VOLUME [VOLUME...]",
    "Remove one or more volumes",
    (Flag("force", "f", BOOL, "Force the removal of one or more volumes"),),
    min_args=1,
)


@handles(RM)
def rm(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    return remove_each(cli, args, "volumes", {"force": opts["force"] or None})


COMMANDS = command_table(create, ls, inspect, rm)
