"""A service's model → the Engine API's container create body (pure).

What Compose v2 sends: Mounts (not Binds) for volumes, binds and tmpfs; file
file-based secrets and configs bind-mounted read-only (`/run/secrets/<name>`, `/<name>`);
ports as ExposedPorts + PortBindings; the first network in the create call (its
aliases: the service name and the configured ones), the others connected before
start; healthcheck durations in nanoseconds; deploy.resources as HostConfig limits.
"""

from __future__ import annotations

import re

from dockyard.compose.errors import ComposeError
from dockyard.proto.timetypes import go_duration
from dockyard.proto.units import ram_in_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.compose.model import Project, Service


def duration_ns(value: Any) -> int:
    """A Go duration ("1m30s", "500ms", "10s") in nanoseconds; a bare number is seconds."""
    if isinstance(value, int | float):
        return int(value * 10**9)
    text = str(value).strip()
    if not text:
        return 0
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return int(float(text) * 10**9)
    try:
        return go_duration(text)
    except ValueError:
        raise ComposeError(f"invalid duration {text!r}") from None


def size_bytes(value: Any) -> int:
    """ "512m", "1g", "1GB", 1024 → bytes (docker's units.RAMInBytes: binary multiples)."""
    if isinstance(value, int | float):
        return int(value)
    try:
        return ram_in_bytes(str(value).strip())
    except ValueError:
        raise ComposeError(f"invalid size: {value!r}") from None


def container_name(project: Project, service: Service, number: int) -> str:
    return service.config.get("container_name") or f"{project.name}-{service.name}-{number}"


def image_name(project: Project, service: Service) -> str:
    """The image a service runs: its `image`, else the one `build` makes (`<project>-<service>`)."""
    return service.image or f"{project.name}-{service.name}"


def network_mode(project: Project, service: Service, resolve: Any) -> str | None:
    """`network_mode`, with `service:NAME` resolved to a container by `resolve(NAME)`."""
    mode = service.config.get("network_mode")
    if mode and mode.startswith("service:"):
        return f"container:{resolve(mode[len('service:') :])}"
    return mode


def sorted_networks(service: Service) -> list[str]:
    """Network keys by priority (highest first), then name, as compose-go orders them."""
    nets = service.networks
    return sorted(nets, key=lambda n: (-int((nets[n] or {}).get("priority", 0)), n))


def endpoint(project: Project, service: Service, key: str) -> dict[str, Any]:
    spec = service.networks.get(key) or {}
    ep: dict[str, Any] = {"Aliases": [service.name, *spec.get("aliases", [])]}
    ipam = {}
    if spec.get("ipv4_address"):
        ipam["IPv4Address"] = spec["ipv4_address"]
    if spec.get("ipv6_address"):
        ipam["IPv6Address"] = spec["ipv6_address"]
    if ipam:
        ep["IPAMConfig"] = ipam
    if spec.get("mac_address"):
        ep["MacAddress"] = spec["mac_address"]
    return ep


def _mounts(project: Project, service: Service) -> list[dict[str, Any]]:
    out = []
    for m in service.config.get("volumes") or []:
        mount: dict[str, Any] = {"Type": m["type"], "Target": m["target"]}
        if m.get("read_only"):
            mount["ReadOnly"] = True
        if m["type"] == "volume":
            src = m.get("source")
            if src:
                mount["Source"] = project.volumes[src]["name"]
            mount["VolumeOptions"] = {"NoCopy": bool((m.get("volume") or {}).get("nocopy"))}
        elif m["type"] == "bind":
            mount["Source"] = m["source"]
            bind = m.get("bind") or {}
            if bind.get("propagation"):
                mount["BindOptions"] = {"Propagation": bind["propagation"]}
        elif m["type"] == "tmpfs":
            opts = m.get("tmpfs") or {}
            if opts.get("size"):
                mount["TmpfsOptions"] = {"SizeBytes": size_bytes(opts["size"])}
        else:
            mount["Source"] = m.get("source", "")
        out.append(mount)
    for key, default_dir in (("secrets", "/run/secrets/"), ("configs", "/")):
        defined = getattr(project, key)
        for ref in service.config.get(key) or []:
            spec = defined[ref["source"]]
            if "environment" in spec or "content" in spec:
                continue  # copied in once created (injectfiles)
            if "file" not in spec:
                raise ComposeError(
                    f"service {service.name}: external {key} are only supported in swarm mode"
                )
            target = ref.get("target") or ref["source"]
            if not target.startswith("/"):
                target = default_dir + target
            out.append({"Type": "bind", "Source": spec["file"], "Target": target, "ReadOnly": True})
    return out


def _ports(service: Service) -> tuple[dict[str, Any], dict[str, list[dict[str, str]]]]:
    exposed: dict[str, Any] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for e in service.config.get("expose") or []:
        port, _, proto = str(e).partition("/")
        for p in _port_range(port):
            exposed[f"{p}/{proto or 'tcp'}"] = {}
    for p in service.config.get("ports") or []:
        key = f"{p['target']}/{p.get('protocol', 'tcp')}"
        exposed[key] = {}
        bindings.setdefault(key, []).append(
            {"HostIp": p.get("host_ip", ""), "HostPort": str(p.get("published") or "")}
        )
    return exposed, bindings


def _port_range(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def _healthcheck(hc: dict[str, Any]) -> dict[str, Any]:
    if hc.get("disable"):
        return {"Test": ["NONE"]}
    out: dict[str, Any] = {}
    if "test" in hc:
        out["Test"] = hc["test"]
    for key, field in (("interval", "Interval"), ("timeout", "Timeout"),
                       ("start_period", "StartPeriod"), ("start_interval", "StartInterval")):  # fmt: skip
        if hc.get(key):
            out[field] = duration_ns(hc[key])
    if hc.get("retries") is not None:
        out["Retries"] = int(hc["retries"])
    return out


def _restart(policy: str | None) -> dict[str, Any]:
    if not policy or policy == "no":
        return {"Name": "no"}
    name, _, count = policy.partition(":")
    return {"Name": name, "MaximumRetryCount": int(count or 0)}


def _resources(cfg: dict[str, Any], host: dict[str, Any]) -> None:
    limits = ((cfg.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    reservations = ((cfg.get("deploy") or {}).get("resources") or {}).get("reservations") or {}
    memory = cfg.get("mem_limit") or limits.get("memory")
    if memory:
        host["Memory"] = size_bytes(memory)
    if cfg.get("mem_reservation") or reservations.get("memory"):
        host["MemoryReservation"] = size_bytes(cfg.get("mem_reservation") or reservations["memory"])
    if cfg.get("memswap_limit"):
        host["MemorySwap"] = size_bytes(cfg["memswap_limit"])
    cpus = cfg.get("cpus") or limits.get("cpus")
    if cpus:
        host["NanoCpus"] = int(float(cpus) * 1e9)
    pids = cfg.get("pids_limit") or limits.get("pids")
    if pids:
        host["PidsLimit"] = int(pids)
    for key, field in (("cpu_shares", "CpuShares"), ("cpu_quota", "CpuQuota"),
                       ("cpu_period", "CpuPeriod"), ("cpuset", "CpusetCpus"),
                       ("oom_score_adj", "OomScoreAdj")):  # fmt: skip
        if cfg.get(key) is not None:
            host[field] = cfg[key] if key == "cpuset" else int(cfg[key])


def create_body(
    project: Project,
    service: Service,
    labels: dict[str, str],
    image: str,
    mode: str | None,
    first_network: str | None,
) -> dict[str, Any]:
    """The `POST /containers/create` body; `mode` and `first_network` are resolved names."""
    cfg = service.config
    exposed, bindings = _ports(service)
    env = [f"{k}={v}" if v is not None else k for k, v in (cfg.get("environment") or {}).items()]
    host: dict[str, Any] = {
        "Mounts": _mounts(project, service),
        "PortBindings": bindings,
        "RestartPolicy": _restart(cfg.get("restart")),
        "NetworkMode": mode or first_network or "default",
    }
    simple = {"cap_add": "CapAdd", "cap_drop": "CapDrop", "dns": "Dns", "dns_search": "DnsSearch",
              "dns_opt": "DnsOptions", "security_opt": "SecurityOpt", "group_add": "GroupAdd",
              "privileged": "Privileged", "read_only": "ReadonlyRootfs", "init": "Init",
              "ipc": "IpcMode", "pid": "PidMode", "uts": "UTSMode", "userns_mode": "UsernsMode",
              "cgroup_parent": "CgroupParent", "runtime": "Runtime", "sysctls": "Sysctls",
              "storage_opt": "StorageOpt",
              "oom_kill_disable": "OomKillDisable", "cgroup": "CgroupnsMode"}  # fmt: skip
    for key, field in simple.items():
        if cfg.get(key) is not None:
            host[field] = cfg[key]
    if cfg.get("volumes_from"):
        host["VolumesFrom"] = [_volumes_from(project, v) for v in cfg["volumes_from"]]
    if cfg.get("links"):
        host["Links"] = [_link(project, v) for v in cfg["links"]]
    if cfg.get("extra_hosts"):
        host["ExtraHosts"] = [h.replace("=", ":", 1) for h in cfg["extra_hosts"]]
    if cfg.get("tmpfs"):
        host["Tmpfs"] = {t.partition(":")[0]: t.partition(":")[2] for t in cfg["tmpfs"]}
    if cfg.get("shm_size"):
        host["ShmSize"] = size_bytes(cfg["shm_size"])
    if cfg.get("ulimits"):
        host["Ulimits"] = [
            {"Name": n, "Soft": int(v), "Hard": int(v)} if not isinstance(v, dict)
            else {"Name": n, "Soft": int(v["soft"]), "Hard": int(v["hard"])}
            for n, v in cfg["ulimits"].items()
        ]  # fmt: skip
    if cfg.get("logging"):
        host["LogConfig"] = {"Type": cfg["logging"].get("driver", ""),
                             "Config": cfg["logging"].get("options") or {}}  # fmt: skip
    if cfg.get("devices"):
        host["Devices"] = [_device(d) for d in cfg["devices"]]
    _resources(cfg, host)
    body: dict[str, Any] = {
        "Image": image,
        "Labels": labels,
        "Env": env,
        "ExposedPorts": exposed,
        "HostConfig": host,
        "Tty": bool(cfg.get("tty")),
        "OpenStdin": bool(cfg.get("stdin_open")),
        "AttachStdout": True,
        "AttachStderr": True,
    }
    if "command" in cfg:
        body["Cmd"] = cfg["command"]
    if "entrypoint" in cfg:
        body["Entrypoint"] = cfg["entrypoint"]
    for key, field in (("hostname", "Hostname"), ("domainname", "Domainname"), ("user", "User"),
                       ("working_dir", "WorkingDir"), ("stop_signal", "StopSignal"),
                       ("mac_address", "MacAddress")):  # fmt: skip
        if cfg.get(key):
            body[field] = cfg[key]
    if cfg.get("stop_grace_period"):
        body["StopTimeout"] = duration_ns(cfg["stop_grace_period"]) // 10**9
    if cfg.get("healthcheck"):
        body["Healthcheck"] = _healthcheck(cfg["healthcheck"])
    if first_network and not mode:
        body["NetworkingConfig"] = {
            "EndpointsConfig": {
                first_network: endpoint(project, service, _key_of(project, service, first_network))
            }
        }
    return body


def _key_of(project: Project, service: Service, network_name: str) -> str:
    for key in service.networks:
        if project.networks[key]["name"] == network_name:
            return key
    return network_name


def _first_container(project: Project, service: str) -> str:
    if service in project.services:
        return container_name(project, project.services[service], 1)
    return f"{project.name}-{service}-1"


def _volumes_from(project: Project, entry: str) -> str:
    """`service[:ro]` or `container:name[:ro]` → the `name[:ro]` the Engine API takes."""
    if entry.startswith("container:"):
        return entry[len("container:") :]
    name, sep, mode = entry.removeprefix("service:").partition(":")
    return _first_container(project, name) + (f":{mode}" if sep else "")


def _link(project: Project, entry: str) -> str:
    """`service[:alias]` → `container:alias` (the alias defaults to the service name)."""
    name, _, alias = entry.partition(":")
    return f"{_first_container(project, name)}:{alias or name}"


def _device(spec: str) -> dict[str, str]:
    parts = spec.split(":")
    host = parts[0]
    target = parts[1] if len(parts) > 1 else host
    perms = parts[2] if len(parts) > 2 else "rwm"
    return {"PathOnHost": host, "PathInContainer": target, "CgroupPermissions": perms}
