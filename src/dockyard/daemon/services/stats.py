"""`docker stats`: one sample of a container's resource use, in Docker's JSON.

Read from the cgroup v1 controllers the runtime made for the container
(`/sys/fs/cgroup/<ctrl>/dockyard/<id>`: memory, cpuacct, pids, blkio) and from
`/proc/<pid>/net/dev`, which shows the network namespace of that process.
`sample()` does the reading; `document()` is pure shaping: the same
field names and units as dockerd's (nanoseconds of CPU, bytes), with
`precpu_stats` from the previous sample so the client computes CPU %.
"""

from __future__ import annotations

import os
from typing import Any

CG = "/sys/fs/cgroup"
_UNLIMITED = 1 << 62  # v1 "no limit" is PAGE_COUNTER_MAX pages, near 2^63


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _int(text: str, default: int = 0) -> int:
    try:
        return int(text.strip())
    except ValueError:
        return default


def _kv(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = _int(parts[1])
    return out


def _blkio(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0]:
            major, minor = parts[0].split(":", 1)
            out.append(
                {"major": _int(major), "minor": _int(minor), "op": parts[1],
                 "value": _int(parts[2])}
            )  # fmt: skip
    return out


def parse_net_dev(text: str) -> dict[str, dict[str, int]]:
    nets: dict[str, dict[str, int]] = {}
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        name = name.strip()
        f = rest.split()
        if not name or name == "lo" or len(f) < 16:
            continue
        v = [_int(x) for x in f]
        nets[name] = {
            "rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2], "rx_dropped": v[3],
            "tx_bytes": v[8], "tx_packets": v[9], "tx_errors": v[10], "tx_dropped": v[11],
        }  # fmt: skip
    return nets


def system_cpu_usage() -> int:
    """Host CPU time in ns (the first line of /proc/stat, as dockerd computes it)."""
    fields = _read("/proc/stat").splitlines()[0].split()[1:8]
    ticks = sum(_int(x) for x in fields)
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def sample(cid: str, pid: int) -> dict[str, Any]:
    """Raw numbers of one instant."""
    mem = f"{CG}/memory/dockyard/{cid}"
    cpu = f"{CG}/cpuacct/dockyard/{cid}"
    percpu = [_int(x) for x in _read(f"{cpu}/cpuacct.usage_percpu").split()]
    stat = _kv(_read(f"{cpu}/cpuacct.stat"))
    hz = os.sysconf("SC_CLK_TCK")
    throttle = _kv(_read(f"{CG}/cpu/dockyard/{cid}/cpu.stat"))
    pids_max = _read(f"{CG}/pids/dockyard/{cid}/pids.max").strip()
    return {
        "cpu_total": _int(_read(f"{cpu}/cpuacct.usage")),
        "percpu": percpu,
        "cpu_user": stat.get("user", 0) * 1_000_000_000 // hz,
        "cpu_system": stat.get("system", 0) * 1_000_000_000 // hz,
        "system": system_cpu_usage(),
        "online": os.cpu_count() or 1,
        "throttling": {
            "periods": throttle.get("nr_periods", 0),
            "throttled_periods": throttle.get("nr_throttled", 0),
            "throttled_time": throttle.get("throttled_time", 0),
        },
        "mem_usage": _int(_read(f"{mem}/memory.usage_in_bytes")),
        "mem_max": _int(_read(f"{mem}/memory.max_usage_in_bytes")),
        "mem_limit": _int(_read(f"{mem}/memory.limit_in_bytes"), _UNLIMITED),
        "mem_failcnt": _int(_read(f"{mem}/memory.failcnt")),
        "mem_stat": _kv(_read(f"{mem}/memory.stat")),
        "pids": _int(_read(f"{CG}/pids/dockyard/{cid}/pids.current")),
        "pids_limit": _int(pids_max) if pids_max.isdigit() else 0,
        "blkio_bytes": _blkio(
            _read(f"{CG}/blkio/dockyard/{cid}/blkio.throttle.io_service_bytes_recursive")
        ),
        "blkio_ios": _blkio(
            _read(f"{CG}/blkio/dockyard/{cid}/blkio.throttle.io_serviced_recursive")
        ),
        "net": parse_net_dev(_read(f"/proc/{pid}/net/dev")) if pid else {},
    }


def host_memory() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return _int(line.split()[1]) * 1024
    return 0


def _cpu(s: dict[str, Any] | None) -> dict[str, Any]:
    if not s:
        return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0,
                              "usage_in_usermode": 0},
                "throttling_data": {"periods": 0, "throttled_periods": 0,
                                    "throttled_time": 0}}  # fmt: skip
    return {
        "cpu_usage": {
            "total_usage": s["cpu_total"],
            "percpu_usage": s["percpu"],
            "usage_in_kernelmode": s["cpu_system"],
            "usage_in_usermode": s["cpu_user"],
        },
        "system_cpu_usage": s["system"],
        "online_cpus": s["online"],
        "throttling_data": s["throttling"],
    }


def document(
    cid: str, name: str, read: str, cur: dict[str, Any] | None,
    prev: dict[str, Any] | None, preread: str, host_mem: int,
) -> dict[str, Any]:  # fmt: skip
    """Docker's StatsJSON from two samples (pure). `cur` None: a stopped container."""
    doc: dict[str, Any] = {
        "read": read,
        "preread": preread,
        "pids_stats": {},
        "blkio_stats": {
            "io_service_bytes_recursive": None,
            "io_serviced_recursive": None,
            "io_queue_recursive": None,
            "io_service_time_recursive": None,
            "io_wait_time_recursive": None,
            "io_merged_recursive": None,
            "io_time_recursive": None,
            "sectors_recursive": None,
        },  # fmt: skip
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": _cpu(cur),
        "precpu_stats": _cpu(prev),
        "memory_stats": {},
        "name": name,
        "id": cid,
    }
    if cur is None:
        return doc
    limit = cur["mem_limit"]
    if limit >= _UNLIMITED or (host_mem and limit > host_mem):
        limit = host_mem
    doc["pids_stats"] = {"current": cur["pids"]}
    if cur["pids_limit"]:
        doc["pids_stats"]["limit"] = cur["pids_limit"]
    doc["blkio_stats"]["io_service_bytes_recursive"] = cur["blkio_bytes"]
    doc["blkio_stats"]["io_serviced_recursive"] = cur["blkio_ios"]
    doc["memory_stats"] = {
        "usage": cur["mem_usage"],
        "max_usage": cur["mem_max"],
        "stats": cur["mem_stat"],
        "failcnt": cur["mem_failcnt"],
        "limit": limit,
    }
    doc["networks"] = cur["net"]
    return doc
