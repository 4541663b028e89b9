"""The config hash Compose v2 labels containers with (`com.docker.compose.config-hash`).

Compose v2 (2.30.3, compose-go 2.4.4) hashes Go's `json.Marshal` of the service's
compose-go `ServiceConfig`, after clearing build, pull_policy, scale,
deploy.replicas, depends_on and profiles: the sha256 of those bytes, in hex. To
give the same hash, and so leave alone containers real Compose v2 made, the
normalised service is written here as that struct marshals: fields in declaration
order (`output.SERVICE_ORDER`, the same order `config` prints), Go's `omitempty`
(zero values dropped, except behind pointers: `init: false` stays, `privileged:
false` goes; `command`/`entrypoint` are always written, `null` when unset), map
keys sorted, sizes as quoted byte counts (`UnitBytes`), durations as
`time.Duration.String()`, `ulimits` given as one number written as that number,
`x-*` extensions left out (`json:"-"`), and <, >, & escaped as Go escapes them.
"""

from __future__ import annotations

import hashlib

from dockyard.compose.convert import duration_ns, size_bytes
from dockyard.compose.fieldorder import ORDERS, SERVICE_ORDER
from dockyard.compose.gojson import go_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

NOT_HASHED = ("build", "pull_policy", "scale", "depends_on", "profiles")
ALWAYS = ("command", "entrypoint")  # json:"command" without omitempty
# pointer fields: a zero value is still written
POINTERS = {"attach", "init", "develop", "blkio_config", "credential_spec", "deploy",
            "extends", "healthcheck", "logging", "stop_grace_period"}  # fmt: skip
BYTES = {"mem_limit", "mem_reservation", "memswap_limit", "mem_swappiness", "shm_size"}
FLOATS = {"cpus", "cpu_percent"}
INTS = {"cpu_count", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime",
        "cpu_shares", "oom_score_adj", "pids_limit"}  # fmt: skip
NETWORK = "priority aliases ipv4_address ipv6_address link_local_ips mac_address driver_opts"
DEPLOY = """mode replicas labels update_config rollback_config resources restart_policy
placement endpoint_mode"""
RESOURCE = "cpus memory pids devices generic_resources"
RESTART = "condition delay max_attempts window"
UPDATE = "parallelism delay failure_action monitor max_failure_ratio order"
PLACEMENT = "constraints preferences max_replicas_per_node"
BIND = "selinux propagation create_host_path recursive"
TMPFS = "size mode"
VOLUME = "nocopy subpath"


def service_hash(config: dict[str, Any], container_id: Callable[[str], str] | None = None) -> str:
    """The hash; `container_id(service)` resolves references to other services' containers
    first, as v2 hashes them (see `resolve_references`)."""
    if container_id is not None:
        config = resolve_references(config, container_id)
    return hashlib.sha256(go_json(go_service(config)).encode()).hexdigest()


def resolve_references(
    config: dict[str, Any], container_id: Callable[[str], str]
) -> dict[str, Any]:
    """v2 hashes a service after resolving what names other services' containers:
    `network_mode: service:X` becomes `container:<id>`, a `volumes_from` entry `X[:mode]`
    the bare `<id>` and `container:Y[:mode]` the bare `Y` (v2 drops the mode there);
    `container_id(X)` is the first of X's containers by name, as v2 picks it."""
    out = dict(config)
    mode = out.get("network_mode") or ""
    if mode.startswith("service:"):
        out["network_mode"] = "container:" + container_id(mode[len("service:") :])
    if out.get("volumes_from"):
        out["volumes_from"] = [
            v.split(":")[1] if v.startswith("container:") else container_id(v.split(":")[0])
            for v in out["volumes_from"]
        ]
    return out


def go_service(config: dict[str, Any]) -> dict[str, Any]:
    """The service as compose-go's ServiceConfig marshals it, hash exclusions applied."""
    out: dict[str, Any] = {}
    for key in SERVICE_ORDER:
        if key in NOT_HASHED:
            continue
        if key not in config:
            if key in ALWAYS:
                out[key] = None
            continue
        value = _field(key, config[key])
        if key in ALWAYS or key in POINTERS and value is not None or not _empty(value):
            out[key] = value
    return out


def _empty(value: Any) -> bool:
    return (
        value is None or value is False or value == 0 or value == "" or value == [] or value == {}
    )


def _struct(value: dict[str, Any], order: str | list[str], pointers: str = "",
            keep: str = "", convert: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """A struct's fields in order, omitempty: `pointers` are written whenever set (a
    pointer to a zero value is not empty), `keep` always (struct values: `{}`)."""
    names = order.split() if isinstance(order, str) else order
    out = {}
    for name in names:
        if name not in value and name not in keep.split():
            continue
        v = value.get(name)
        if convert and name in convert:
            v = convert[name](v)
        if name in keep.split():
            out[name] = v if v is not None else {}
        elif name in pointers.split() and v is not None or not _empty(v):
            out[name] = v
    return out


def _sorted(value: dict[str, Any]) -> dict[str, Any]:
    return {k: value[k] for k in sorted(value)}


def _bytes(value: Any) -> str | None:
    return None if value is None else str(size_bytes(value))


def _duration(value: Any) -> str | None:
    from dockyard.proto.timetypes import go_duration_string  # calendar, datetime: when needed

    return None if value is None else go_duration_string(duration_ns(value))


def _float(value: Any) -> float | int | None:
    if value is None:
        return None
    f = float(value)
    return int(f) if f.is_integer() else f


def _resource(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    return _struct(value, RESOURCE, convert={"cpus": _float, "memory": _bytes})


def _deploy(value: dict[str, Any]) -> dict[str, Any]:
    resources = value.get("resources") or {}
    update = {"delay": _duration, "monitor": _duration}
    return _struct(
        {k: v for k, v in value.items() if k != "replicas"}, DEPLOY,
        pointers="update_config rollback_config restart_policy", keep="resources placement",
        convert={
            "labels": lambda v: _sorted(v) if v else v,
            "resources": lambda _: _struct(
                {k: _resource(resources.get(k)) for k in ("limits", "reservations") if k in resources},
                "limits reservations", pointers="limits reservations"),
            "restart_policy": lambda v: None if v is None else _struct(
                v, RESTART, pointers="delay max_attempts window",
                convert={"delay": _duration, "window": _duration}),
            "update_config": lambda v: None if v is None else _struct(v, UPDATE, convert=update),
            "rollback_config": lambda v: None if v is None else _struct(v, UPDATE, convert=update),
            "placement": lambda v: _struct(v or {}, PLACEMENT),
        },
    )  # fmt: skip


def _volume(mount: dict[str, Any]) -> dict[str, Any]:
    return _struct(mount, ORDERS["mount"], pointers="bind volume tmpfs", convert={
        "bind": lambda v: None if v is None else _struct(v, BIND),
        "volume": lambda v: None if v is None else _struct(v, VOLUME),
        "tmpfs": lambda v: None if v is None else _struct(v, TMPFS, convert={"size": _bytes}),
    })  # fmt: skip


def _field(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key in BYTES:
        return _bytes(value)
    if key in FLOATS:
        return _float(value)
    if key in INTS:
        return int(value)
    if key == "stop_grace_period":
        return _duration(value)
    if key in ("environment", "labels", "sysctls", "annotations", "log_opt", "storage_opt"):
        return _sorted(value) if isinstance(value, dict) else value
    if key == "extra_hosts":
        return sorted(value)
    if key == "networks":
        return {n: None if v is None else _struct(v, NETWORK) for n, v in sorted(value.items())}
    if key == "ports":
        return [_struct(p, ORDERS["port"]) for p in value]
    if key == "volumes":
        return [_volume(m) for m in value]
    if key in ("secrets", "configs"):
        return [_struct(r, ORDERS["file_ref"], pointers="mode") for r in value]
    if key == "ulimits":
        return {n: v if isinstance(v, int) else _struct(v, "soft hard")
                for n, v in sorted(value.items())}  # fmt: skip
    if key == "healthcheck":
        durations = dict.fromkeys(("timeout", "interval", "start_period", "start_interval"),
                                  _duration)  # fmt: skip
        return _struct(value, ORDERS["healthcheck"], pointers=" ".join([*durations, "retries"]),
                       convert=durations)  # fmt: skip
    if key == "deploy":
        return _deploy(value)
    if key == "logging":
        return _struct(value, "driver options", convert={"options": lambda v: _sorted(v or {})})
    return value
