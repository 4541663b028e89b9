"""The resource limits a classic build's RUN containers get: `docker build`'s
flags, the /build query parameters dockerd reads for them, and the HostConfig
fields they become (one table for the CLI and the daemon)."""

from __future__ import annotations

from typing import Any

# (CLI flag, query parameter, HostConfig field, is a byte size)
RESOURCES = (
    ("memory", "memory", "Memory", True),
    ("memory-swap", "memswap", "MemorySwap", True),
    ("cpu-shares", "cpushares", "CpuShares", False),
    ("cpu-period", "cpuperiod", "CpuPeriod", False),
    ("cpu-quota", "cpuquota", "CpuQuota", False),
    ("cpuset-cpus", "cpusetcpus", "CpusetCpus", False),
    ("cpuset-mems", "cpusetmems", "CpusetMems", False),
    ("shm-size", "shmsize", "ShmSize", True),
)
_TEXT = {"CpusetCpus", "CpusetMems"}


def host_config(query: Any) -> dict[str, Any]:
    """The HostConfig fields from a /build request's query (what is set, non-zero)."""
    out: dict[str, Any] = {}
    for _, param, field, _ in RESOURCES:
        raw = query.get(param, "")
        if raw in ("", "0"):
            continue
        out[field] = raw if field in _TEXT else int(raw)
    return out
