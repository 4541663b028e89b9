"""A task's ContainerSpec as an Engine API container-create body, with swarm's name
(`<service>.<slot>.<task id>`, or the node id for global services) and labels."""

from __future__ import annotations

from typing import Any

SECRETS_DIR = "/run/secrets"
GWBRIDGE = "docker_gwbridge"  # dockerd's name for a node's bridge of overlay tasks


def container_name(service_name: str, task: dict[str, Any]) -> str:
    slot = task.get("Slot") or task.get("NodeID")
    return f"{service_name}.{slot}.{task['ID']}"


def labels(service_name: str, task: dict[str, Any]) -> dict[str, str]:
    return {
        "com.docker.swarm.node.id": task.get("NodeID", ""),
        "com.docker.swarm.service.id": task["ServiceID"],
        "com.docker.swarm.service.name": service_name,
        "com.docker.swarm.task": "",
        "com.docker.swarm.task.id": task["ID"],
        "com.docker.swarm.task.name": container_name(service_name, task).rsplit(".", 1)[0]
        + "."
        + task["ID"],
    }


def host_ports(endpoint: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """ExposedPorts and PortBindings for the service's `--publish mode=host` ports."""
    exposed: dict[str, Any] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for p in (endpoint or {}).get("Ports") or []:
        if p.get("PublishMode") != "host":
            continue
        key = f"{p['TargetPort']}/{p.get('Protocol') or 'tcp'}"
        exposed[key] = {}
        published = p.get("PublishedPort")
        bindings.setdefault(key, []).append(
            {"HostIp": "", "HostPort": str(published) if published else ""}
        )
    return exposed, bindings


def create_body(
    service_name: str, task: dict[str, Any], endpoint: dict[str, Any] | None = None
) -> dict[str, Any]:
    spec = task.get("Spec") or {}
    cs = spec.get("ContainerSpec") or {}
    resources = spec.get("Resources") or {}
    limits = resources.get("Limits") or {}
    log_driver = spec.get("LogDriver") or {}
    config: dict[str, Any] = {
        "Image": cs.get("Image", ""),
        "Env": cs.get("Env") or [],
        "Labels": {**(cs.get("Labels") or {}), **labels(service_name, task)},
        "Hostname": cs.get("Hostname") or "",
        "User": cs.get("User") or "",
        "WorkingDir": cs.get("Dir") or "",
        "Tty": bool(cs.get("TTY")),
        "OpenStdin": bool(cs.get("OpenStdin")),
    }
    if cs.get("Command"):
        config["Entrypoint"] = cs["Command"]
    if cs.get("Args"):
        config["Cmd"] = cs["Args"]
    if cs.get("StopSignal"):
        config["StopSignal"] = cs["StopSignal"]
    if cs.get("Healthcheck"):
        config["Healthcheck"] = cs["Healthcheck"]
    host: dict[str, Any] = {
        "Mounts": cs.get("Mounts") or [],
        "Init": cs.get("Init"),
        "NanoCpus": int(limits.get("NanoCPUs") or 0),
        "Memory": int(limits.get("MemoryBytes") or 0),
        "PidsLimit": int(limits.get("Pids") or 0) or None,
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "ReadonlyRootfs": bool(cs.get("ReadOnly")),
        "CapAdd": cs.get("CapabilityAdd"),
        "CapDrop": cs.get("CapabilityDrop"),
        "Sysctls": cs.get("Sysctls"),
        "ExtraHosts": cs.get("Hosts"),
        "GroupAdd": cs.get("Groups"),
    }
    exposed, bindings = host_ports(endpoint)
    if bindings:
        config["ExposedPorts"] = exposed
        host["PortBindings"] = bindings
    if spec.get("Networks"):  # eth0 on the node's gateway bridge, with the embedded DNS
        host["NetworkMode"] = GWBRIDGE
    if log_driver.get("Name"):
        host["LogConfig"] = {"Type": log_driver["Name"], "Config": log_driver.get("Options") or {}}
    return {**config, "HostConfig": {k: v for k, v in host.items() if v is not None}}


def has_healthcheck(task: dict[str, Any]) -> bool:
    hc = ((task.get("Spec") or {}).get("ContainerSpec") or {}).get("Healthcheck") or {}
    return bool(hc.get("Test")) and hc["Test"][0] != "NONE"


def stop_timeout(task: dict[str, Any]) -> int | None:
    grace = ((task.get("Spec") or {}).get("ContainerSpec") or {}).get("StopGracePeriod")
    return None if grace is None else max(0, int(grace) // 1_000_000_000)


def secret_targets(task: dict[str, Any]) -> list[tuple[str, str]]:
    """(secret id, absolute path in the container) for each secret the task references."""
    cs = (task.get("Spec") or {}).get("ContainerSpec") or {}
    out = []
    for ref in cs.get("Secrets") or []:
        name = ((ref.get("File") or {}).get("Name")) or ref.get("SecretName", "")
        path = name if name.startswith("/") else f"{SECRETS_DIR}/{name}"
        out.append((ref["SecretID"], path))
    return out


def config_targets(task: dict[str, Any]) -> list[tuple[str, str]]:
    cs = (task.get("Spec") or {}).get("ContainerSpec") or {}
    out = []
    for ref in cs.get("Configs") or []:
        name = ((ref.get("File") or {}).get("Name")) or ref.get("ConfigName", "")
        out.append((ref["ConfigID"], name if name.startswith("/") else f"/{name}"))
    return out
