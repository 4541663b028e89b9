"""Short syntaxes to the Compose Specification's long forms, per file, before merging.

Merging by unique key (volumes by target, ports by ip/target/published/protocol)
needs one form, and so does `config` output: ports and volumes become mappings,
`environment`/`labels`/`sysctls`/`build.args` mappings, `depends_on` and `networks`
mappings, `command`/`entrypoint` strings shell-split, relative paths absolute
(against `base_dir`: the first file's directory for `-f` overrides, the file's own
for `extends` and `include`). Pure, except reading `env_file`s.
"""

from __future__ import annotations

import os
import shlex

from dockyard.compose import dotenv
from dockyard.compose.errors import ComposeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def resolve_path(base_dir: str, path: str) -> str:
    if path.startswith("~"):
        path = os.path.expanduser(path)
    return os.path.normpath(os.path.join(base_dir, path))


def is_remote_context(context: str) -> bool:
    return context.startswith(("http://", "https://", "git://", "git@", "github.com/"))


def kv_list(value: Any, env: Mapping[str, str] | None = None, sep: str = "=") -> dict[str, Any]:
    """A mapping, or `["K=V", "K"]` as one; a bare `K` takes `env[K]` (None when unset)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {
            str(k): env.get(str(k)) if v is None and env is not None else _scalar(v)
            for k, v in value.items()
        }
    out: dict[str, Any] = {}
    for item in value:
        key, eq, val = str(item).partition(sep)
        if eq:
            out[key] = val
        elif env is not None and key in env:
            out[key] = env[key]
        else:
            out[key] = None
    return out


def _scalar(v: Any) -> Any:
    """Mapping values are strings in the model (`FOO: 1` is "1"), as compose-go has them."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def shell_words(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as e:
            raise ComposeError(f"invalid command line {value!r}: {e}") from None
    return value


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ComposeError(f"invalid {what}: {value!r}") from None


def _range(text: str, what: str) -> list[int]:
    lo, dash, hi = text.partition("-")
    if not dash:
        return [_int(lo, what)]
    start, end = _int(lo, what), _int(hi, what)
    if end < start:
        raise ComposeError(f"invalid {what} range: {text}")
    return list(range(start, end + 1))


def ports(value: list[Any]) -> list[dict[str, Any]]:
    """`[ip:][published[-range]:]target[-range][/proto]` → one mapping per port."""
    out: list[dict[str, Any]] = []
    for item in value:
        if isinstance(item, dict):
            port = {"mode": "ingress", "protocol": "tcp", **item}
            port["target"] = _int(port.get("target"), "port")
            if "published" in port and port["published"] is not None:
                port["published"] = str(port["published"])
            out.append(port)
            continue
        text = str(item)
        proto = "tcp"
        if "/" in text:
            text, proto = text.rsplit("/", 1)
        host_ip, published, target = "", "", text
        if "]:" in text:  # [v6]:published:target
            host_ip, _, text = text[1:].partition("]:")
            published, _, target = text.rpartition(":")
        else:
            parts = text.split(":")
            if len(parts) == 3:
                host_ip, published, target = parts
            elif len(parts) == 2:
                published, target = parts
            elif len(parts) > 3:
                raise ComposeError(f"invalid port specification: {item!r}")
        targets = _range(target, "containerPort")
        pubs = _range(published, "hostPort") if published else []
        if pubs and len(pubs) != len(targets) and len(targets) != 1:
            raise ComposeError(f"invalid port specification: {item!r}")
        for i, t in enumerate(targets):
            port: dict[str, Any] = {"mode": "ingress"}
            if host_ip:
                port["host_ip"] = host_ip
            port["target"] = t
            if pubs:
                port["published"] = (
                    str(pubs[i]) if len(pubs) == len(targets) else f"{pubs[0]}-{pubs[-1]}"
                )
            port["protocol"] = proto
            out.append(port)
    return out


def _is_path(source: str) -> bool:
    return source.startswith(("/", ".", "~")) or (len(source) > 1 and source[1] == ":")


def volumes(value: list[Any], base_dir: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in value:
        if isinstance(item, dict):
            mount = dict(item)
            if mount.get("type") == "bind" and mount.get("source"):
                mount["source"] = resolve_path(base_dir, mount["source"])
                mount.setdefault("bind", {"create_host_path": True})
            out.append(mount)
            continue
        text = str(item)
        parts = text.split(":")
        if len(parts) == 1:
            out.append({"type": "volume", "target": parts[0], "volume": {}})
            continue
        if len(parts) > 3:
            raise ComposeError(f"invalid volume specification: {text!r}")
        source, target = parts[0], parts[1]
        modes = parts[2].split(",") if len(parts) == 3 else []
        mount = {"type": "bind" if _is_path(source) else "volume", "source": source,
                 "target": target}  # fmt: skip
        if "ro" in modes:
            mount["read_only"] = True
        if mount["type"] == "bind":
            mount["source"] = resolve_path(base_dir, source)
            bind: dict[str, Any] = {"create_host_path": True}
            for m in modes:
                if m in ("z", "Z"):
                    bind["selinux"] = m
                elif m in ("shared", "rshared", "slave", "rslave", "private", "rprivate"):
                    bind["propagation"] = m
            mount["bind"] = bind
        else:
            mount["volume"] = {"nocopy": True} if "nocopy" in modes else {}
        out.append(mount)
    return out


def build(value: Any, base_dir: str, env: Mapping[str, str]) -> dict[str, Any]:
    spec = {"context": value} if isinstance(value, str) else dict(value)
    context = str(spec.get("context") or ".")
    spec["context"] = context if is_remote_context(context) else resolve_path(base_dir, context)
    if "dockerfile" not in spec and "dockerfile_inline" not in spec:
        spec["dockerfile"] = "Dockerfile"
    for key in ("args", "labels", "additional_contexts"):
        if key in spec:
            spec[key] = kv_list(spec[key], env)
    return spec


def service(svc: dict[str, Any] | None, base_dir: str, env: Mapping[str, str]) -> dict[str, Any]:
    """One service's long form; `env` resolves bare `environment` keys and `env_file`s."""
    svc = dict(svc or {})
    if "build" in svc:
        svc["build"] = build(svc["build"], base_dir, env)
    for key in ("command", "entrypoint"):
        if key in svc:
            svc[key] = shell_words(svc[key])
    if "env_file" in svc:
        files = svc.pop("env_file")
        merged: dict[str, Any] = {}
        for entry in [files] if isinstance(files, str | dict) else files:
            path, required = (entry, True) if isinstance(entry, str) else (
                entry.get("path", ""), entry.get("required", True))  # fmt: skip
            path = resolve_path(base_dir, path)
            if not required and not os.path.exists(path):
                continue
            merged.update(dotenv.read(path, env))
        merged.update(kv_list(svc.get("environment"), env))
        svc["environment"] = merged
    elif "environment" in svc:
        svc["environment"] = kv_list(svc["environment"], env)
    for key in ("labels", "sysctls", "annotations"):
        if key in svc:
            svc[key] = kv_list(svc[key])
    if "extra_hosts" in svc:
        hosts = svc["extra_hosts"]
        if isinstance(hosts, list):
            pairs = [str(h).replace("=", ":", 1) if "=" in str(h) else str(h) for h in hosts]
            svc["extra_hosts"] = [p.replace(":", "=", 1) for p in pairs]
        else:
            svc["extra_hosts"] = [f"{k}={v}" for k, v in hosts.items()]
    if "ports" in svc:
        svc["ports"] = ports(svc["ports"])
    if "expose" in svc:
        svc["expose"] = [str(e) for e in svc["expose"]]
    if "volumes" in svc:
        svc["volumes"] = volumes(svc["volumes"], base_dir)
    for key in ("dns", "dns_search", "tmpfs"):
        if isinstance(svc.get(key), str):
            svc[key] = [svc[key]]
    if isinstance(svc.get("networks"), list):
        svc["networks"] = {n: None for n in svc["networks"]}
    if "depends_on" in svc:
        deps = svc["depends_on"]
        if isinstance(deps, list):
            deps = {d: None for d in deps}
        svc["depends_on"] = {
            d: {"condition": "service_started", "required": True, **(spec or {})}
            for d, spec in deps.items()
        }
    for key in ("secrets", "configs"):
        if key in svc:
            svc[key] = [{"source": s} if isinstance(s, str) else dict(s) for s in svc[key]]
    if "healthcheck" in svc:
        hc = dict(svc["healthcheck"])
        if isinstance(hc.get("test"), str):
            hc["test"] = ["CMD-SHELL", hc["test"]]
        svc["healthcheck"] = hc
    if "scale" in svc:
        svc["scale"] = _int(svc["scale"], "scale")
    deploy = svc.get("deploy")
    if isinstance(deploy, dict) and "replicas" in deploy:
        svc["deploy"] = {**deploy, "replicas": _int(deploy["replicas"], "replicas")}
    return svc


def resource(section: str, name: str, spec: Any, base_dir: str) -> dict[str, Any]:
    """A top-level network, volume, secret or config in long form."""
    spec = dict(spec or {})
    ext = spec.get("external")
    if isinstance(ext, dict):  # the legacy `external: {name: x}`
        spec["external"] = True
        if "name" in ext:
            spec["name"] = ext["name"]
    if section in ("secrets", "configs") and "file" in spec:
        spec["file"] = resolve_path(base_dir, spec["file"])
    for key in ("labels",):
        if key in spec:
            spec[key] = kv_list(spec[key])
    return spec
