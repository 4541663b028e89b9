"""`dockyard stats`: docker's table (CPU %, memory, net and block I/O, pids)
computed from /containers/{id}/stats as the docker CLI computes it (cgroup v1:
memory minus total_inactive_file; CPU % from the delta to precpu_stats)."""

from __future__ import annotations

import sys

from dockyard.cli.flags import ALL_CONTAINERS, BOOL, FORMAT, Command, Flag
from dockyard.cli.format import human_size, short_id
from dockyard.cli.main import Cli, command_table, handles
from dockyard.cli.template import Header, columns_json
from dockyard.client.errors import APIError
from dockyard.client.http import quote
from dockyard.proto.units import bytes_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STATS = Command(
    "stats [OPTIONS] [CONTAINER...]",
    "Display a live stream of container(s) resource usage statistics",
    (
        ALL_CONTAINERS,
        FORMAT,
        Flag("no-stream", "", BOOL, "Disable streaming stats and only pull the first result"),
        Flag("no-trunc", "", BOOL, "Do not truncate output"),
    ),
)

TABLE = (
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}"
    "\t{{.BlockIO}}\t{{.PIDs}}"
)
_HEADERS = {
    "ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}  # fmt: skip


def compute(s: dict[str, Any]) -> dict[str, float]:
    """The numbers the docker CLI shows for one stats document (pure)."""
    cpu, pre = s.get("cpu_stats") or {}, s.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (
        pre.get("cpu_usage") or {}
    ).get("total_usage", 0)
    sys_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or [])
    cpu_pct = cpu_delta / sys_delta * online * 100.0 if sys_delta > 0 and cpu_delta > 0 else 0.0
    mem = s.get("memory_stats") or {}
    usage = mem.get("usage", 0)
    inactive = (mem.get("stats") or {}).get("total_inactive_file", 0)
    if inactive < usage:
        usage -= inactive
    limit = mem.get("limit", 0)
    rx = sum(n.get("rx_bytes", 0) for n in (s.get("networks") or {}).values())
    tx = sum(n.get("tx_bytes", 0) for n in (s.get("networks") or {}).values())
    blk = (s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    read = sum(e["value"] for e in blk if e.get("op", "").lower() == "read")
    write = sum(e["value"] for e in blk if e.get("op", "").lower() == "write")
    return {
        "cpu": cpu_pct, "mem": usage, "limit": limit,
        "mem_pct": usage / limit * 100.0 if limit else 0.0,
        "rx": rx, "tx": tx, "read": read, "write": write,
        "pids": (s.get("pids_stats") or {}).get("current", 0),
    }  # fmt: skip


class StatsRow:
    go_type = "formatter.containerStatsContext"

    def __init__(self, ref: str, s: dict[str, Any], trunc: bool) -> None:
        self.ref, self.s, self.trunc, self.v = ref, s, trunc, compute(s)

    def template_field(self, name: str) -> Any:
        v = self.v
        cid = self.s.get("id", "")
        fields = {
            "ID": short_id(cid) if self.trunc else cid,
            "Container": self.ref,
            "Name": (self.s.get("name") or "").lstrip("/"),
            "CPUPerc": f"{v['cpu']:.2f}%",
            "MemUsage": f"{bytes_size(v['mem'])} / {bytes_size(v['limit'])}",
            "MemPerc": f"{v['mem_pct']:.2f}%",
            "NetIO": f"{human_size(v['rx'])} / {human_size(v['tx'])}",
            "BlockIO": f"{human_size(v['read'])} / {human_size(v['write'])}",
            "PIDs": str(v["pids"]),
        }
        return fields[name]

    def template_json(self) -> dict[str, Any]:
        return columns_json(self, _HEADERS)


@handles(STATS)
def stats(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.template import TemplateError, render

    names = list(args)
    if not names:
        found = cli.client.get("/containers/json", {"all": opts["all"] or None}) or []
        names = [c["Id"] for c in found]
    fmt = opts["format"] or TABLE
    if fmt == "table":
        fmt = TABLE
    while True:
        rows, errors = [], []
        for name in names:
            try:
                s = cli.client.get(f"/containers/{quote(name)}/stats", {"stream": "false"})
            except APIError as e:
                errors.append(str(e))
                continue
            rows.append(StatsRow(name, s, not opts["no_trunc"]))
        if errors:
            cli.err("\n".join(errors) + "\n")
            return 1
        try:
            text = render(fmt, rows, Header(_HEADERS))
        except TemplateError as e:
            cli.err(f"template parsing error: {e}\n")
            return 1
        if opts["no_stream"]:
            cli.out(text)
            return 0
        if sys.stdout.isatty():
            cli.out("\033[2J\033[H")
        cli.out(text)
        sys.stdout.flush()


COMMANDS = command_table(stats)
