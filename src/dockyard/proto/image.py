"""Image formats, pure: the image config (Docker's image JSON / OCI config),
chain ids, platforms, timestamps, and the shape of `Config` as Docker shows it.
"""

from __future__ import annotations

import hashlib
import platform as _platform
import time
from typing import Any

from dockyard.api.errors import InvalidParameter

_GOARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}
ZERO_TIME = "0001-01-01T00:00:00Z"


def host_platform() -> tuple[str, str, str]:
    """(os, architecture, variant) of this host, in Go's names."""
    m = _platform.machine()
    arch = _GOARCH.get(m, m)
    variant = "v7" if m == "armv7l" else ("v8" if arch == "arm64" else "")
    return "linux", arch, variant


def parse_platform(s: str | None) -> tuple[str, str, str]:
    """`linux`, `linux/amd64`, `linux/arm/v7` -> (os, architecture, variant); empty = host."""
    host = host_platform()
    if not s:
        return host
    parts = s.lower().split("/")
    if len(parts) > 3 or not all(parts):
        raise InvalidParameter(f'"{s}": unknown operating system or architecture: invalid argument')
    os_ = parts[0]
    if os_ != "linux":
        raise InvalidParameter(f'operating system is not supported: "{os_}"')
    arch = parts[1] if len(parts) > 1 else host[1]
    arch = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386"}.get(arch, arch)
    variant = parts[2] if len(parts) > 2 else ""
    return os_, arch, variant


def rfc3339_nano(ns: int | None = None) -> str:
    """Go's time.RFC3339Nano in UTC (trailing zeros of the fraction trimmed)."""
    if ns is None:
        ns = time.time_ns()
    secs, frac = divmod(ns, 1_000_000_000)
    out = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if frac:
        out += "." + f"{frac:09d}".rstrip("0")
    return out + "Z"


def parse_rfc3339(s: str | None) -> float:
    """Seconds since the epoch of an RFC 3339 timestamp (0 for empty or unparsable)."""
    if not s:
        return 0.0
    import datetime as _dt

    txt = s.strip()
    frac = 0.0
    if "." in txt:
        head, rest = txt.split(".", 1)
        digits = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            digits += rest[i]
            i += 1
        frac = float("0." + digits) if digits else 0.0
        txt = head + rest[i:]
    txt = txt.replace("Z", "+00:00")
    try:
        return _dt.datetime.fromisoformat(txt).timestamp() + frac
    except ValueError:
        return 0.0


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI chain ids: ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    out: list[str] = []
    for d in diff_ids:
        if not out:
            out.append(d)
        else:
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# Docker's container.Config as the API shows it (ImageInspect.Config, ContainerConfig).
_CONFIG_DEFAULTS: dict[str, Any] = {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "ExposedPorts": None,
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": None,
    "Cmd": None,
    "Healthcheck": None,
    "ArgsEscaped": None,
    "Image": "",
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "NetworkDisabled": None,
    "MacAddress": None,
    "OnBuild": None,
    "Labels": None,
    "StopSignal": None,
    "StopTimeout": None,
    "Shell": None,
}
_OMIT_EMPTY = {
    "ExposedPorts",
    "Healthcheck",
    "ArgsEscaped",
    "Volumes",
    "NetworkDisabled",
    "MacAddress",
    "StopSignal",
    "StopTimeout",
    "Shell",
}


def api_container_config(cfg: dict[str, Any] | None) -> dict[str, Any]:
    """An image config's `config` in the shape docker's API returns it."""
    out = dict(_CONFIG_DEFAULTS)
    out.update(cfg or {})
    return {k: v for k, v in out.items() if not (k in _OMIT_EMPTY and v in (None, "", {}, []))}


def import_config(
    container_config: dict[str, Any],
    diff_id: str,
    message: str,
    platform: tuple[str, str, str],
    created: str,
    docker_version: str,
) -> dict[str, Any]:
    """The image config `docker import` writes: one layer, one history entry."""
    os_, arch, variant = platform
    cfg: dict[str, Any] = {
        "architecture": arch,
        "config": container_config,
        "created": created,
        "docker_version": docker_version,
        "history": [{"created": created, **({"comment": message} if message else {})}],
        "os": os_,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    if message:
        cfg["comment"] = message
    if variant:
        cfg["variant"] = variant
    return cfg
