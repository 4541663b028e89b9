"""Structural validation of one compose file against the Compose Specification's schema.

A compact table of the keys each section accepts and the YAML types each takes,
checked after interpolation and before merging, so an error names the file it is in
and the dotted key (`validating compose.yaml: services.web.ports.0 must be a string
or number`). Semantic checks that need the whole model (undefined services,
networks, volumes) live in `validate`.
"""

from __future__ import annotations

import re

from dockyard.compose.errors import ValidationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

S, I, N, B, L, M = "string", "integer", "number", "boolean", "array", "object"  # noqa: E741 - the schema's type names, kept short for the tables
_NAME_RE = re.compile(r"^[a-zA-Z0-9._-]+$")

# key -> accepted YAML types (the first is the one named in errors)
SERVICE: dict[str, tuple[str, ...]] = {
    "annotations": (M, L), "attach": (B,), "blkio_config": (M,), "build": (S, M),
    "cap_add": (L,), "cap_drop": (L,), "cgroup": (S,), "cgroup_parent": (S,),
    "command": (S, L, "null"), "configs": (L,), "container_name": (S,),
    "cpu_count": (I, S), "cpu_percent": (I, S), "cpu_period": (I, S), "cpu_quota": (I, S),
    "cpu_rt_period": (I, S), "cpu_rt_runtime": (I, S), "cpu_shares": (I, S),
    "cpus": (N, S), "cpuset": (S,), "credential_spec": (M,), "depends_on": (L, M),
    "deploy": (M, "null"), "develop": (M,), "device_cgroup_rules": (L,), "devices": (L,),
    "dns": (S, L), "dns_opt": (L,), "dns_search": (S, L), "domainname": (S,),
    "entrypoint": (S, L, "null"), "env_file": (S, L), "environment": (M, L), "expose": (L,),
    "extends": (S, M), "external_links": (L,), "extra_hosts": (L, M), "gpus": (L, S),
    "group_add": (L,), "healthcheck": (M,), "hostname": (S,), "image": (S,), "init": (B,),
    "ipc": (S,), "isolation": (S,), "labels": (M, L), "label_file": (S, L), "links": (L,),
    "logging": (M,), "mac_address": (S,), "mem_limit": (N, S), "mem_reservation": (I, S),
    "mem_swappiness": (I, S), "memswap_limit": (N, S), "network_mode": (S,), "networks": (L, M),
    "oom_kill_disable": (B,), "oom_score_adj": (I, S), "pid": (S, "null"), "pids_limit": (N, S),
    "platform": (S,), "ports": (L,), "post_start": (L,), "pre_stop": (L,), "privileged": (B,),
    "profiles": (L,), "pull_policy": (S,), "read_only": (B,), "restart": (S,), "runtime": (S,),
    "scale": (I, S), "secrets": (L,), "security_opt": (L,), "shm_size": (N, S),
    "stdin_open": (B,), "stop_grace_period": (S,), "stop_signal": (S,), "storage_opt": (M,),
    "sysctls": (M, L), "tmpfs": (S, L), "tty": (B,), "ulimits": (M,), "user": (S,),
    "userns_mode": (S,), "uts": (S,), "volumes": (L,), "volumes_from": (L,),
    "working_dir": (S,),
}  # fmt: skip
NETWORK = {
    "name": (S,), "driver": (S,), "driver_opts": (M,), "ipam": (M,), "external": (B, M),
    "internal": (B,), "enable_ipv4": (B,), "enable_ipv6": (B,), "attachable": (B,),
    "labels": (M, L),
}  # fmt: skip
VOLUME = {
    "name": (S,),
    "driver": (S,),
    "driver_opts": (M,),
    "external": (B, M),
    "labels": (M, L),
}
SECRET = {
    "name": (S,), "file": (S,), "environment": (S,), "content": (S,), "external": (B, M),
    "labels": (M, L), "driver": (S,), "driver_opts": (M,), "template_driver": (S,),
}  # fmt: skip
TOP = {
    "version": (S,), "name": (S,), "services": (M,), "networks": (M,), "volumes": (M,),
    "secrets": (M,), "configs": (M,), "include": (L,),
}  # fmt: skip
BUILD = {
    "context": (S,), "dockerfile": (S,), "dockerfile_inline": (S,), "args": (M, L),
    "ssh": (M, L), "labels": (M, L), "cache_from": (L,), "cache_to": (L,), "no_cache": (B,),
    "additional_contexts": (M, L), "network": (S,), "pull": (B,), "target": (S,),
    "shm_size": (I, S), "extra_hosts": (M, L), "isolation": (S,), "privileged": (B,),
    "secrets": (L,), "tags": (L,), "ulimits": (M,), "platforms": (L,), "entitlements": (L,),
}  # fmt: skip
HEALTHCHECK = {
    "disable": (B,), "interval": (S,), "retries": (N, S), "test": (S, L), "timeout": (S,),
    "start_period": (S,), "start_interval": (S,),
}  # fmt: skip
DEPENDS_ON = {"condition": (S,), "restart": (B,), "required": (B,)}
CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
PORT = {
    "name": (S,), "mode": (S,), "host_ip": (S,), "target": (I, S), "published": (S, I),
    "protocol": (S,), "app_protocol": (S,), "x-unused": (S,),
}  # fmt: skip
MOUNT = {
    "type": (S,), "source": (S,), "target": (S,), "read_only": (B,), "consistency": (S,),
    "bind": (M,), "volume": (M,), "tmpfs": (M,), "image": (M,),
}  # fmt: skip
FILE_REF = {"source": (S,), "target": (S,), "uid": (S,), "gid": (S,), "mode": (N, S)}
EXTENDS = {"service": (S,), "file": (S,)}
INCLUDE = {"path": (S, L), "env_file": (S, L), "project_directory": (S,)}


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return B
    if isinstance(value, int):
        return I
    if isinstance(value, float):
        return N
    if isinstance(value, str):
        return S
    if isinstance(value, list):
        return L
    return M


def _accepts(allowed: tuple[str, ...], value: Any) -> bool:
    actual = _type_of(value)
    return actual in allowed or (actual == I and N in allowed)


def _must_be(allowed: tuple[str, ...]) -> str:
    names = {S: "a string", I: "an integer", N: "a number", B: "a boolean", L: "an array",
             M: "an object", "null": "null"}  # fmt: skip
    words = [names[a] for a in allowed if a != "null"]
    if len(words) == 1:
        return f"must be {words[0]}"
    return "must be " + ", ".join(words[:-1]) + f" or {words[-1].split(' ', 1)[1]}"


class _Checker:
    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, path: str, message: str) -> None:
        raise ValidationError(self.file, path, message)

    def mapping(self, value: Any, path: str, table: dict[str, tuple[str, ...]]) -> None:
        if not isinstance(value, dict):
            self.fail(path, "must be an object")
        extra = [k for k in value if k not in table and not str(k).startswith("x-")]
        if extra:
            names = ", ".join(f"'{k}'" for k in extra)
            plural = "properties" if len(extra) > 1 else "property"
            self.fail(path, f"additional {plural} {names} not allowed")
        for key, item in value.items():
            if key in table and not _accepts(table[key], item):
                self.fail(f"{path}.{key}", _must_be(table[key]))

    def items(self, value: Any, path: str, allowed: tuple[str, ...], table: dict | None) -> None:
        if not isinstance(value, list):
            return
        for i, item in enumerate(value):
            if not _accepts(allowed, item):
                self.fail(f"{path}.{i}", _must_be(allowed))
            if isinstance(item, dict) and table is not None:
                self.mapping(item, f"{path}.{i}", table)

    def service(self, name: str, svc: Any) -> None:
        path = f"services.{name}"
        if svc is None:
            return  # an override fragment may only name a service
        self.mapping(svc, path, SERVICE)
        if isinstance(svc.get("build"), dict):
            self.mapping(svc["build"], f"{path}.build", BUILD)
        if "healthcheck" in svc:
            self.mapping(svc["healthcheck"], f"{path}.healthcheck", HEALTHCHECK)
        if isinstance(svc.get("extends"), dict):
            self.mapping(svc["extends"], f"{path}.extends", EXTENDS)
            if "service" not in svc["extends"]:
                self.fail(f"{path}.extends", "missing property 'service'")
        self.items(svc.get("ports"), f"{path}.ports", (S, I, M), PORT)
        self.items(svc.get("volumes"), f"{path}.volumes", (S, M), MOUNT)
        self.items(svc.get("secrets"), f"{path}.secrets", (S, M), FILE_REF)
        self.items(svc.get("configs"), f"{path}.configs", (S, M), FILE_REF)
        for key in ("cap_add", "cap_drop", "dns_opt", "expose", "profiles", "security_opt"):
            self.items(svc.get(key), f"{path}.{key}", (S, I) if key == "expose" else (S,), None)
        deps = svc.get("depends_on")
        if isinstance(deps, list):
            self.items(deps, f"{path}.depends_on", (S,), None)
        elif isinstance(deps, dict):
            for dep, spec in deps.items():
                dpath = f"{path}.depends_on.{dep}"
                self.mapping(spec or {}, dpath, DEPENDS_ON)
                cond = (spec or {}).get("condition")
                if cond is not None and cond not in CONDITIONS:
                    self.fail(f"{dpath}.condition", "must be one of " + ", ".join(
                        f"'{c}'" for c in CONDITIONS))  # fmt: skip
        nets = svc.get("networks")
        if isinstance(nets, list):
            self.items(nets, f"{path}.networks", (S,), None)
        elif isinstance(nets, dict):
            for net, spec in nets.items():
                if spec is not None and not isinstance(spec, dict):
                    self.fail(f"{path}.networks.{net}", "must be an object")
        restart = svc.get("restart")
        if isinstance(restart, str) and not re.fullmatch(
            r"no|always|unless-stopped|on-failure(:\d+)?", restart
        ):
            self.fail(f"{path}.restart", f"invalid restart policy {restart!r}")

    def document(self, doc: Any) -> None:
        if doc is None:
            return
        if not isinstance(doc, dict):
            self.fail("", "Top-level object must be a mapping")
        self.mapping(doc, "(root)", TOP)
        for section, table in (("networks", NETWORK), ("volumes", VOLUME),
                               ("secrets", SECRET), ("configs", SECRET)):  # fmt: skip
            for name, spec in (doc.get(section) or {}).items():
                if not _NAME_RE.match(str(name)):
                    self.fail(f"{section}", f"additional properties '{name}' not allowed")
                if spec is not None:
                    self.mapping(spec, f"{section}.{name}", table)
        for name, svc in (doc.get("services") or {}).items():
            if not _NAME_RE.match(str(name)):
                self.fail("services", f"additional properties '{name}' not allowed")
            self.service(str(name), svc)
        self.items(doc.get("include"), "include", (S, M), INCLUDE)


def check(doc: Any, file: str) -> None:
    """Raise `ValidationError` naming `file` and the key if `doc` breaks the schema."""
    _Checker(file).document(doc)
