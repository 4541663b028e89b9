"""Which fields each Engine API version's answers carry, and how each version's
requests are read: the one table of the Engine API version history
(docs.docker.com/reference/api/engine/version-history) as far as this daemon
serves it (1.24 to 1.45).

Services answer in the newest shape. The server middleware finds a request's
operation (moby's operationId, from ROUTES), refuses what no version accepts
(`check_request`), rewrites an older client's query (`read_query`), and turns
the answer into the shape of the client's version (`shape_answer`). Create
bodies need the body, so the create router calls `hoist_host_config` (through
the request model, before it checks types) and `read_create_body` (after).
No router tests versions itself.

Paths name fields in an answer: `.A.B` a field, `[]` every item of a list, `*`
every value of a map keyed by data (network names). Filters are parsed with
gojson, the one JSON parser for client input; the empty container config comes
from proto.image, which shapes every image config the API returns.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from dockyard.api.errors import InvalidParameter
from dockyard.api.models import gojson
from dockyard.api.version import MIN_API_VERSION, less_than
from dockyard.proto.image import api_container_config

Json = Any


@dataclass(frozen=True)
class Field:
    """A field an operation's answer carries from `added` until before `removed`.

    Inside that range, a field the service leaves out is filled by `default`
    (called with the object that holds it), if one is given; outside it, the
    field is dropped.
    """

    operation: str
    path: str
    added: str = MIN_API_VERSION
    removed: str | None = None
    default: Callable[[dict[str, Any]], Json] | None = None
    why: str = ""

    def carried(self, version: str) -> bool:
        if less_than(version, self.added):
            return False
        return self.removed is None or less_than(version, self.removed)


@dataclass(frozen=True)
class Reshape:
    """A change of values (not of fields) for versions from `since` until before `before`."""

    operation: str
    apply: Callable[[Json], None]
    before: str | None = None
    since: str = MIN_API_VERSION
    why: str = ""

    def applies(self, version: str) -> bool:
        if less_than(version, self.since):
            return False
        return self.before is None or less_than(version, self.before)


def _empty_container_config() -> dict[str, Any]:
    # dockerd 20.10 marshals the image's zero container.Config: every field
    # without `omitempty`, Volumes among them (null).
    return {**api_container_config({}), "Volumes": None}


def _image_container_config(_: dict[str, Any]) -> dict[str, Any]:
    return _empty_container_config()


def _none_placeholders(images: Json) -> None:
    # Before 1.43 an image with neither tag nor digest was listed as
    # <none>:<none> / <none>@<none>, and an empty list of either was null.
    for img in images or []:
        if not img.get("RepoTags") and not img.get("RepoDigests"):
            img["RepoTags"], img["RepoDigests"] = ["<none>:<none>"], ["<none>@<none>"]
            continue
        for key in ("RepoTags", "RepoDigests"):
            if not img.get(key):
                img[key] = None


def _df_none_placeholders(df: Json) -> None:
    _none_placeholders((df or {}).get("Images"))


def _short_id_aliases(doc: Json) -> None:
    # Before 1.45 dockerd listed the short id among a container's aliases on user
    # networks (1.45 moved it to DNSNames and left Aliases as the client gave them).
    short = str(doc.get("Id", ""))[:12]
    networks = ((doc.get("NetworkSettings") or {}).get("Networks")) or {}
    for name, ep in networks.items():
        if name in ("bridge", "host", "none") or not isinstance(ep, dict):
            continue
        aliases = list(ep.get("Aliases") or [])
        if short and short not in aliases:
            ep["Aliases"] = [*aliases, short]


def _no_containers(networks: Json) -> None:
    for n in networks or []:
        if isinstance(n, dict) and "Containers" in n:
            n["Containers"] = {}


def _name_only_security_options(info: Json) -> None:
    # "name=seccomp,profile=default" -> "seccomp"
    opts = info.get("SecurityOptions") or []
    info["SecurityOptions"] = [
        next((kv[5:] for kv in o.split(",") if kv.startswith("name=")), o) for o in opts
    ]


def _unknown_when_empty(info: Json) -> None:
    for key in ("KernelVersion", "OperatingSystem"):
        if info.get(key) == "":
            info[key] = "<unknown>"


def _commit_expected(part: dict[str, Any]) -> str:
    return str(part.get("ID", ""))


_ENDPOINT = ".NetworkSettings.Networks.*"

FIELDS: tuple[Field, ...] = (
    # GET /images/{name}/json
    # v1.45 dropped Container and ContainerConfig; we keep them (a deliberate
    # difference): docker-compose v1 negotiates the daemon's newest version (docker-py
    # 5's "auto") and then reads ContainerConfig unconditionally when it recreates a
    # container, so dropping them breaks it (KeyError: 'ContainerConfig'), as it breaks
    # against dockerd 26. An extra field harms no client (the API's schema is open).
    Field("ImageInspect", ".Container", default=lambda _: "", why="kept at 1.45 for compose v1"),
    Field("ImageInspect", ".ContainerConfig", default=_image_container_config,
          why="kept at 1.45 for compose v1"),
    Field("ImageInspect", ".VirtualSize", removed="1.44", default=lambda img: img.get("Size", 0),
          why="v1.44: VirtualSize omitted; it was Size"),
    Field("ImageInspect", ".Config.Volumes", default=lambda _: None,
          why="container.Config marshals Volumes without omitempty"),
    # GET /images/json
    Field("ImageList", "[].VirtualSize", removed="1.44", default=lambda img: img.get("Size", 0),
          why="v1.44: VirtualSize omitted"),
    # GET /system/df
    Field("SystemDataUsage", ".Images[].VirtualSize", removed="1.44",
          default=lambda img: img.get("Size", 0), why="v1.44: VirtualSize omitted"),
    Field("SystemDataUsage", ".BuilderSize", removed="1.42", default=lambda _: 0,
          why="v1.42: BuilderSize removed"),
    # GET /containers/{id}/json and /containers/json
    Field("ContainerInspect", ".HostConfig.KernelMemory", removed="1.42", default=lambda _: 0,
          why="v1.42: omitted when not set"),
    Field("ContainerInspect", ".HostConfig.KernelMemoryTCP", removed="1.42", default=lambda _: 0,
          why="v1.42: omitted when not set"),
    Field("ContainerInspect", f"{_ENDPOINT}.DNSNames", added="1.44", why="v1.44: added"),
    Field("ContainerList", f"[]{_ENDPOINT}.DNSNames", added="1.44", why="v1.44: added"),
    Field("ContainerInspect", f"{_ENDPOINT}.GwPriority", added="1.48", why="v1.48: added"),
    Field("ContainerList", f"[]{_ENDPOINT}.GwPriority", added="1.48", why="v1.48: added"),
    # GET /networks, /networks/{id}
    Field("NetworkList", "[].EnableIPv4", added="1.47", why="v1.47: added"),
    Field("NetworkInspect", ".EnableIPv4", added="1.47", why="v1.47: added"),
    # GET /info
    # Kernel-memory limits are not supported here: from 1.42 both are omitted, as
    # dockerd omits them where they are not supported.
    Field("SystemInfo", ".KernelMemory", removed="1.42", default=lambda _: False,
          why="v1.42: omitted when not supported"),
    Field("SystemInfo", ".KernelMemoryTCP", removed="1.42", default=lambda _: False,
          why="v1.42: omitted when not supported"),
    Field("SystemInfo", ".ExecutionDriver", removed="1.25", default=lambda _: "<not supported>",
          why="before 1.25 dockerd still answered the field, as <not supported>"),
    Field("SystemInfo", ".ContainerdCommit.Expected", default=_commit_expected,
          why="carried by every version up to 1.45"),
    Field("SystemInfo", ".RuncCommit.Expected", default=_commit_expected,
          why="carried by every version up to 1.45"),
    Field("SystemInfo", ".InitCommit.Expected", default=_commit_expected,
          why="carried by every version up to 1.45"),
)  # fmt: skip

RESHAPES: tuple[Reshape, ...] = (
    Reshape("ImageList", _none_placeholders, before="1.43",
            why="v1.43: no <none> placeholders, [] not null"),
    Reshape("SystemDataUsage", _df_none_placeholders, before="1.43", why="as the image list before v1.43"),
    Reshape("ContainerInspect", _short_id_aliases, before="1.45",
            why="v1.45: Aliases as submitted"),
    Reshape("NetworkList", _no_containers, since="1.28",
            why="v1.28: the list no longer carries each network's containers"),
    Reshape("SystemInfo", _name_only_security_options, before="1.25",
            why="before 1.25 SecurityOptions were bare names"),
    Reshape("SystemInfo", _unknown_when_empty, before="1.39",
            why="v1.39: empty instead of <unknown>"),
)  # fmt: skip


def shape_answer(operation: str, version: str, answer: Json) -> Json:
    """`answer` (the newest shape) in the shape `version` has; edits it in place."""
    for rule in FIELDS:
        if rule.operation == operation:
            _apply_field(answer, _steps(rule.path), rule, rule.carried(version))
    for reshape in RESHAPES:
        if reshape.operation == operation and reshape.applies(version):
            reshape.apply(answer)
    return answer


def _steps(path: str) -> list[str]:
    out: list[str] = []
    for part in path.replace("[]", ".[]").split("."):
        if part:
            out.append(part)
    return out


def _holders(node: Json, steps: list[str]) -> Iterator[dict[str, Any]]:
    """Every object that holds the last step's field."""
    if not steps:
        return
    head, rest = steps[0], steps[1:]
    if head == "[]":
        for item in node if isinstance(node, list) else []:
            yield from _holders(item, rest)
        return
    if not isinstance(node, dict):
        return
    if not rest:
        yield node
    elif head == "*":
        for value in node.values():
            yield from _holders(value, rest)
    elif head in node:
        yield from _holders(node[head], rest)


def _apply_field(answer: Json, steps: list[str], rule: Field, carried: bool) -> None:
    last = steps[-1]
    for holder in _holders(answer, steps):
        if not carried:
            holder.pop(last, None)
        elif last not in holder and rule.default is not None:
            holder[last] = rule.default(holder)


# ---- requests -------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """A query parameter an operation reads from version `added` on; an older
    client's is ignored, as dockerd ignores it."""

    operation: str
    name: str
    added: str
    why: str = ""


PARAMS: tuple[Param, ...] = (
    Param("ContainerStop", "signal", "1.42", "v1.42: stop and restart accept a signal"),
    Param("ContainerRestart", "signal", "1.42", "v1.42: stop and restart accept a signal"),
    Param("ImageList", "shared-size", "1.42", "v1.42: added"),
    Param("SystemDataUsage", "type", "1.42", "v1.42: added"),
    Param("ContainerCreate", "platform", "1.41", "v1.41: added"),
    Param("ContainerStats", "one-shot", "1.41", "v1.41: added"),
)


def _filters_of(query: dict[str, list[str]]) -> dict[str, Any] | None:
    raw = (query.get("filters") or [""])[0]
    try:
        filters = gojson.parse(raw.encode()) if raw else {}
    except InvalidParameter:
        return None  # the router reports the bad `filters` itself
    return filters if isinstance(filters, dict) else None


def _with_filter(filters: dict[str, Any], key: str, value: str) -> dict[str, Any]:
    """`filters` with `value` added under `key`, in either of Docker's two encodings."""
    old = filters.get(key)
    if isinstance(old, dict):
        return {**filters, key: {**old, value: True}}
    return {**filters, key: [*(old if isinstance(old, list) else []), value]}


def read_query(
    operation: str, version: str, query: dict[str, list[str]]
) -> dict[str, list[str]] | None:
    """The query an older client's parameters mean today, or None when unchanged."""
    out = {k: list(v) for k, v in query.items()}
    for p in PARAMS:
        if p.operation == operation and p.name in out and less_than(version, p.added):
            del out[p.name]
    if operation == "ImageList" and less_than(version, "1.41") and out.get("filter"):
        # `filter` (singular), a reference glob, until 1.41 (then `filters`).
        pattern = out.pop("filter")[0]
        filters = _filters_of(out)
        if filters is not None:
            out["filters"] = [json.dumps(_with_filter(filters, "reference", pattern))]
    if operation == "VolumePrune" and less_than(version, "1.42"):
        # v1.42: prune takes only anonymous volumes unless all=true; older clients
        # meant every unused volume.
        filters = _filters_of(out)
        if filters is not None:
            out["filters"] = [json.dumps(_with_filter(filters, "all", "true"))]
    return None if out == query else out


def check_request(operation: str, content_length: int | None, chunked: bool) -> None:
    """Refuses what no version this daemon speaks accepts any more: a start request
    carrying a body (HostConfig at start, gone in 1.24). As dockerd, a body of up to
    7 bytes (`{}`, `null`) passes: a non-nil JSON object is at least 7 characters."""
    if operation != "ContainerStart":
        return
    if (content_length is not None and content_length > 7) or (content_length is None and chunked):
        raise InvalidParameter(
            "starting container with non-empty request body was deprecated since API v1.22 "
            "and removed in v1.24"
        )


# HostConfig fields an old client may send at the top level of a create body
# (moby's ContainerConfigWrapper embeds HostConfig beside Config for them).
_HOST_CONFIG_FIELDS = frozenset(
    """Binds ContainerIDFile LogConfig NetworkMode PortBindings RestartPolicy AutoRemove
    VolumeDriver VolumesFrom ConsoleSize Annotations CapAdd CapDrop CgroupnsMode Dns DnsOptions
    DnsSearch ExtraHosts GroupAdd IpcMode Cgroup Links OomScoreAdj PidMode Privileged
    PublishAllPorts ReadonlyRootfs SecurityOpt StorageOpt Tmpfs UTSMode UsernsMode ShmSize
    Sysctls Runtime Isolation CpuShares Memory NanoCpus CgroupParent BlkioWeight
    BlkioWeightDevice BlkioDeviceReadBps BlkioDeviceWriteBps BlkioDeviceReadIOps
    BlkioDeviceWriteIOps CpuPeriod CpuQuota CpuRealtimePeriod CpuRealtimeRuntime CpusetCpus
    CpusetMems Devices DeviceCgroupRules DeviceRequests KernelMemory KernelMemoryTCP
    MemoryReservation MemorySwap MemorySwappiness OomKillDisable PidsLimit Ulimits CpuCount
    CpuPercent IOMaximumIOps IOMaximumBandwidth Mounts MaskedPaths ReadonlyPaths Init""".split()
)
# Resource fields an outer (top-level) value fills when the inner HostConfig leaves them zero.
_OUTER_FILLS = ("Memory", "MemorySwap", "CpuShares", "CpusetCpus")


def hoist_host_config(body: Json) -> Json:
    """A create body's HostConfig fields sent beside Config (old docker-py's
    `create_container(dns=..., volume_driver=...)`) moved into HostConfig, as moby's
    ContainerConfigWrapper reads them at every version: the inner HostConfig wins,
    except that outer resources fill its zeroes. Runs before the request model."""
    if not isinstance(body, dict) or not isinstance(body.get("HostConfig", {}), dict | None):
        return body  # not an object: the request model refuses it with Go's words
    outer = {k: body[k] for k in body if k in _HOST_CONFIG_FIELDS}
    cpuset = body.get("Cpuset")
    if not outer and not cpuset:
        return body
    body = {k: v for k, v in body.items() if k not in outer and k != "Cpuset"}
    inner = body.get("HostConfig")
    hc = dict(outer) if inner is None else dict(inner)
    if inner is not None:
        for key in _OUTER_FILLS:
            if outer.get(key) and not hc.get(key):
                hc[key] = outer[key]
    if cpuset and not hc.get("CpusetCpus"):
        hc["CpusetCpus"] = cpuset
    body["HostConfig"] = hc
    return body


def read_create_body(version: str, body: dict[str, Any]) -> dict[str, Any]:
    """A decoded `POST /containers/create` body as the newest version reads it
    (after the request model checked the types, as dockerd decodes before it adjusts)."""
    if not isinstance(body, dict):
        return body
    body = copy.copy(body)
    hc = dict(body.get("HostConfig") or {})
    if less_than(version, "1.25"):
        # "When using API 1.24 and under, the client is responsible for removing the container"
        hc.pop("AutoRemove", None)
    if less_than(version, "1.40") and not hc.get("IpcMode"):
        hc["IpcMode"] = "shareable"  # older clients expect the default to be shareable
    if not less_than(version, "1.42"):
        hc.pop("KernelMemory", None)  # v1.42: ignored
    if hc or body.get("HostConfig") is not None:
        body["HostConfig"] = hc
    if less_than(version, "1.44"):
        endpoints = (body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
        if len(endpoints) > 1:  # one network at create until 1.44
            raise InvalidParameter(
                "Container cannot be connected to network endpoints: " + ", ".join(endpoints)
            )
        health = body.get("Healthcheck")
        if isinstance(health, dict) and "StartInterval" in health:
            # StartInterval came with 1.44: an older client's is not read
            body["Healthcheck"] = {k: v for k, v in health.items() if k != "StartInterval"}
    return body


# ---- which operation a route is --------------------------------------------------------

# The routes some version changes, by moby's operationId; `{}` stands for a path parameter.
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/images/{}/json"): "ImageInspect",
    ("GET", "/images/json"): "ImageList",
    ("GET", "/system/df"): "SystemDataUsage",
    ("GET", "/containers/{}/json"): "ContainerInspect",
    ("GET", "/containers/json"): "ContainerList",
    ("GET", "/networks"): "NetworkList",
    ("GET", "/networks/{}"): "NetworkInspect",
    ("GET", "/info"): "SystemInfo",
    ("POST", "/containers/{}/start"): "ContainerStart",
    ("POST", "/containers/create"): "ContainerCreate",
    ("POST", "/containers/{}/stop"): "ContainerStop",
    ("POST", "/containers/{}/restart"): "ContainerRestart",
    ("GET", "/containers/{}/stats"): "ContainerStats",
    ("POST", "/volumes/prune"): "VolumePrune",
}
_PARAM = re.compile(r"\{[^{}]*\}")
# Every operation some rule names (each must be routed, or the rule never applies).
OPERATIONS: frozenset[str] = frozenset(
    [f.operation for f in FIELDS]
    + [r.operation for r in RESHAPES]
    + [p.operation for p in PARAMS]
    + ["ContainerCreate", "ContainerStart", "VolumePrune"]
)


def operation(method: str, route_path: str) -> str | None:
    """The operationId of a route (`/images/{name:.+}/json`), if a version changes it."""
    return ROUTES.get((method, _PARAM.sub("{}", route_path)))
