"""Network commands: network create, ls, inspect, rm, connect, disconnect (network prune
is prune.py's)."""

from __future__ import annotations

from dockyard.cli.filterflag import filter_flag, parse_filters
from dockyard.cli.flags import BOOL, DRIVER_OPTS, FORMAT, FORMAT_F, LIST, STRING, Command, Flag
from dockyard.cli.main import Cli, command_table, handles
from dockyard.cli.template import Header, columns_json
from dockyard.client.errors import APIError
from dockyard.client.http import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def kv_list(items: list[str]) -> dict[str, str]:
    """`--label a=b --label c` -> {"a": "b", "c": ""} (docker's ConvertKVStringsToMap)."""
    out = {}
    for item in items:
        k, _, v = item.partition("=")
        out[k] = v
    return out


def inspect_objects(cli: Cli, opts: dict[str, Any], kind: str, names: list[str]) -> int:
    """`network inspect`, `volume inspect`: GET /<kind>/<name> for each name."""
    from dockyard.cli.system import inspect_each

    def fetch(name: str) -> Any:
        try:
            return cli.client.get(f"/{kind}/{quote(name, safe='')}")
        except APIError as e:  # any refusal is reported with the rest, as docker does
            raise LookupError(str(e)) from None

    return inspect_each(cli, opts["format"], names, fetch)


def remove_each(
    cli: Cli, names: list[str], kind: str, params: Any = None, ignore_missing: bool = False
) -> int:
    """DELETE /<kind>/<name> for each name, echoing the ones removed (docker's rm loop)."""
    status = 0
    for name in names:
        try:
            cli.client.delete(f"/{kind}/{quote(name, safe='')}", params)
            cli.out(name + "\n")
        except APIError as e:
            if ignore_missing and e.not_found:
                continue
            cli.err(f"{e}\n")
            status = 1
    return status


def list_rows(cli: Cli, opts: dict[str, Any], rows: list[Any], table: str, header: Any,
              quiet: str) -> int:  # fmt: skip
    """`ls` output: --quiet, --format (or `table`), or the default table."""
    from dockyard.cli.template import print_rows

    fmt = quiet if opts["quiet"] and not opts["format"] else (opts["format"] or table)
    return print_rows(cli, table if fmt == "table" else fmt, rows, header)


# -- network create ----------------------------------------------------------------------
CREATE = Command(
    "network create [OPTIONS] NETWORK",
    "Create a network",
    (
        Flag("attachable", "", BOOL, "Enable manual container attachment"),
        Flag("driver", "d", STRING, "Driver to manage the Network", metavar="string"),
        Flag("gateway", "", LIST, "IPv4 or IPv6 Gateway for the master subnet", metavar="strings"),
        Flag("internal", "", BOOL, "Restrict external access to the network"),
        Flag("ip-range", "", LIST, "Allocate container ip from a sub-range", metavar="strings"),
        Flag("ipv6", "", BOOL, "Enable IPv6 networking"),
        Flag("label", "", LIST, "Set metadata on a network", metavar="list"),
        DRIVER_OPTS,
        Flag(
            "subnet",
            "",
            LIST,
            "Subnet in CIDR format that represents a network segment",
            metavar="strings",
        ),  # fmt: skip
    ),
    min_args=1,
    max_args=1,
)


@handles(CREATE)
def create(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    config = []
    for i, subnet in enumerate(opts["subnet"]):
        c = {"Subnet": subnet}
        if i < len(opts["gateway"]):
            c["Gateway"] = opts["gateway"][i]
        if i < len(opts["ip_range"]):
            c["IPRange"] = opts["ip_range"][i]
        config.append(c)
    body = {
        "Name": args[0],
        "Driver": opts["driver"] or "bridge",
        "Internal": opts["internal"],
        "Attachable": opts["attachable"],
        "EnableIPv6": opts["ipv6"] or None,
        "Options": kv_list(opts["opt"]),
        "Labels": kv_list(opts["label"]),
        "IPAM": {"Driver": "default", "Config": config, "Options": {}},
    }
    out = cli.client.post("/networks/create", json_body=body) or {}
    cli.out(out.get("Id", "") + "\n")
    return 0


# -- network ls --------------------------------------------------------------------------
LS = Command(
    "network ls [OPTIONS]",
    "List networks",
    (
        filter_flag('Provide filter values (e.g. "driver=bridge")'),
        FORMAT,
        Flag("no-trunc", "", BOOL, "Do not truncate the output"),
        Flag("quiet", "q", BOOL, "Only display network IDs"),
    ),
    max_args=0,
)
_LS_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
            "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED"}  # fmt: skip


class NetworkRow:
    go_type = "*formatter.networkContext"

    def __init__(self, n: dict[str, Any], trunc: bool) -> None:
        self.n, self.trunc = n, trunc

    def template_field(self, name: str) -> Any:
        n = self.n
        fields = {
            "ID": n["Id"][:12] if self.trunc else n["Id"],
            "Name": n["Name"],
            "Driver": n["Driver"],
            "Scope": n["Scope"],
            "IPv6": str(bool(n.get("EnableIPv6"))).lower(),
            "Internal": str(bool(n.get("Internal"))).lower(),
            "Labels": ",".join(f"{k}={v}" for k, v in (n.get("Labels") or {}).items()),
            "CreatedAt": n.get("Created", ""),
        }
        return fields[name]

    def template_json(self) -> dict[str, Any]:
        return columns_json(self, _HEADERS)


@handles(LS)
def ls(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    filters = parse_filters(list(opts["filter"]))  # each value checked as the flag was parsed
    nets = sorted(cli.client.get("/networks", {"filters": filters}) or [], key=lambda n: n["Name"])
    rows = [NetworkRow(n, not opts["no_trunc"]) for n in nets]
    return list_rows(cli, opts, rows, _LS_TABLE, Header(_HEADERS), "{{.ID}}")


# -- inspect, rm --------------------------------------------------------------------------
INSPECT = Command(
    "network inspect [OPTIONS] NETWORK [NETWORK...]",
    "Display detailed information on one or more networks",
    (FORMAT_F, Flag("verbose", "v", BOOL, "Verbose output for diagnostics")),
    min_args=1,
)


@handles(INSPECT)
def inspect(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    return inspect_objects(cli, opts, "networks", args)


RM = Command(
    "network rm NETWORK [NETWORK...]",
    "Remove one or more networks",
    (Flag("force", "f", BOOL, "Do not error if the network does not exist"),),
    min_args=1,
)


@handles(RM)
def rm(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    return remove_each(cli, args, "networks", ignore_missing=opts["force"])


# -- connect, disconnect --------------------------------------------------------------------
CONNECT = Command(
    "network connect [OPTIONS] NETWORK CONTAINER",
    "Connect a container to a network",
    (
        Flag("alias", "", LIST, "Add network-scoped alias for the container", metavar="strings"),
        Flag("ip", "", STRING, 'IPv4 address (e.g., "172.30.100.104")', metavar="string"),
        Flag("link", "", LIST, "Add link to another container", metavar="list"),
    ),
    min_args=2,
    max_args=2,
)


@handles(CONNECT)
def connect(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    ep: dict[str, Any] = {"Aliases": opts["alias"] or None, "Links": opts["link"] or None}
    if opts["ip"]:
        ep["IPAMConfig"] = {"IPv4Address": opts["ip"]}
    cli.client.post(
        f"/networks/{quote(args[0], safe='')}/connect",
        json_body={"Container": args[1], "EndpointConfig": ep},
    )
    return 0


DISCONNECT = Command(
    "network disconnect [OPTIONS] NETWORK CONTAINER",
    "Disconnect a container from a network",
    (Flag("force", "f", BOOL, "Force the container to disconnect from a network"),),
    min_args=2,
    max_args=2,
)


@handles(DISCONNECT)
def disconnect(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    cli.client.post(
        f"/networks/{quote(args[0], safe='')}/disconnect",
        json_body={"Container": args[1], "Force": opts["force"]},
    )
    return 0


COMMANDS = command_table(create, ls, inspect, rm, connect, disconnect)
