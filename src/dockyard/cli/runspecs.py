"""The specs that need the whole flag set before they become API fields (pure, no
I/O but reading the files a flag names: --env-file, --label-file, a seccomp
profile): volumes and binds, published and exposed ports, devices, security
options, capabilities, restart policies, the networking config with its
endpoints, health checks and the environment. Refusals raise ValueError with
docker's text, printed as `dockyard: ...`.
"""

from __future__ import annotations

import os

from dockyard.cli.runvalues import _fullmatch, _parse_ip, go_int, go_quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


# -- parse(): the flags as Config, HostConfig and NetworkingConfig -------------------
_MAC = (
    r"(?:[0-9A-Fa-f]{2}([:-]))(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}"
    r"|(?:[0-9A-Fa-f]{2}([:-]))(?:[0-9A-Fa-f]{2}\2){6}[0-9A-Fa-f]{2}"
    r"|(?:[0-9A-Fa-f]{2}([:-]))(?:[0-9A-Fa-f]{2}\3){18}[0-9A-Fa-f]{2}"
    r"|(?:[0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}"
    r"|(?:[0-9A-Fa-f]{4}\.){3}[0-9A-Fa-f]{4}"
    r"|(?:[0-9A-Fa-f]{4}\.){9}[0-9A-Fa-f]{4}"
)


def _check_mac(mac: str) -> None:
    """net.ParseMAC (EUI-48, EUI-64, 20-octet InfiniBand)."""
    if not _fullmatch(_MAC, mac.strip()):
        raise ValueError(f"{mac} is not a valid mac address")


def parse_kv_file(path: str, lookup: Callable[[str], str | None] | None) -> list[str]:
    """kvfile.Parse: KEY=VALUE lines, `#` comments; a bare KEY is looked up (env) or
    dropped (labels)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError(f"open {path}: {(e.strerror or str(e)).lower()}") from None
    lines = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            bad = "[" + " ".join(str(b) for b in raw) + "]"
            raise ValueError(
                f"invalid env file ({path}): invalid utf8 bytes at line {number}: {bad}"
            ) from None
        if number == 1:
            text = text.removeprefix("\ufeff")
        line = text.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, _ = line.partition("=")
        if not key:
            raise ValueError(f"invalid env file ({path}): no variable name on line '{line}'")
        if " " in key or "\t" in key:
            raise ValueError(f"invalid env file ({path}): variable '{key}' contains whitespaces")
        if sep:
            lines.append(line)
        elif lookup is not None and (value := lookup(line)) is not None:
            lines.append(f"{key}={value}")
    return lines


def parse_volume_spec(spec: str) -> tuple[str, str]:
    """compose's loader.ParseVolume: (source, type) of `-v [src:]dst[:opts]`."""
    if not spec:
        raise ValueError("invalid empty volume spec")
    if len(spec) <= 2:
        return "", "volume"
    source = target = ""
    buffer = ""
    for char in spec + "\0":
        if char == ":" and len(buffer) == 1 and buffer.isalpha():
            buffer += char  # a Windows drive letter
        elif char in ":\0":
            if not buffer:
                raise ValueError(f"invalid spec: {spec}: empty section between colons")
            if not source and char == "\0":
                target = buffer
            elif not source:
                source = buffer
            elif not target:
                target = buffer
            elif char == ":":
                raise ValueError(f"invalid spec: {spec}: too many colons")
            buffer = ""
        else:
            buffer += char
    if not source:
        return "", "volume"
    is_path = (
        source[0] in "./~"
        or source.startswith("\\\\")
        or (len(source) > 1 and source[0].isalpha() and source[1] == ":")
    )
    return source, "bind" if is_path else "volume"


def _port_range(text: str) -> tuple[int, int]:
    """nat.ParsePortRange."""
    if not text:
        raise ValueError("empty string specified for ports")
    if "-" not in text:
        port = go_int(text, 16, unsigned=True)
        return port, port
    parts = text.split("-")
    start, end = go_int(parts[0], 16, unsigned=True), go_int(parts[1], 16, unsigned=True)
    if end < start:
        raise ValueError(f"invalid range specified for port: {text}")
    return start, end


def _split_proto_port(raw: str) -> tuple[str, str]:
    parts = raw.split("/")
    if not raw or not parts[0]:
        return "", ""
    if len(parts) == 1 or not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def parse_port_specs(specs: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """nat.ParsePortSpecs: `[ip:][hostPort:]containerPort[/proto]` -> (exposed, bindings)."""
    exposed: dict[str, Any] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for raw in specs:
        parts = raw.split(":")
        container_port = parts[-1]
        ip = ":".join(parts[:-2]) if len(parts) > 2 else ""
        host_port = parts[-2] if len(parts) > 1 else ""
        proto, container_port = _split_proto_port(container_port)
        if ip.startswith("["):
            if not ip.endswith("]"):
                raise ValueError(f"invalid IP address {ip}: address {ip}:: missing ']' in address")
            ip = ip[1:-1]
        if ip and _parse_ip(ip) is None:
            raise ValueError(f"invalid IP address: {ip}")
        if not container_port:
            raise ValueError(f"no port specified: {raw}<empty>")
        try:
            start, end = _port_range(container_port)
        except ValueError:
            raise ValueError(f"invalid containerPort: {container_port}") from None
        host_start = host_end = 0
        if host_port:
            try:
                host_start, host_end = _port_range(host_port)
            except ValueError:
                raise ValueError(f"invalid hostPort: {host_port}") from None
        if host_port and end - start != host_end - host_start and end != start:
            raise ValueError(
                "invalid ranges specified for container and host Ports: "
                f"{container_port} and {host_port}"
            )
        if proto.lower() not in ("tcp", "udp", "sctp"):
            raise ValueError(f"invalid proto: {proto}")
        for i in range(end - start + 1):
            binding_port = str(host_start + i) if host_port else ""
            if start == end and host_start != host_end:
                binding_port = f"{binding_port}-{host_end}"
            key = f"{start + i}/{proto.lower()}"
            exposed.setdefault(key, {})
            bindings.setdefault(key, []).append({"HostIp": ip, "HostPort": binding_port})
    return exposed, bindings


def _standard_notation(publish: list[str]) -> list[str]:
    """`-p published=8080,target=80,protocol=udp` as `8080:80/udp`."""
    out = []
    for item in publish:
        if "=" not in item:
            out.append(item)
            continue
        params = {"protocol": "tcp"}
        for param in item.split(","):
            key, sep, value = param.partition("=")
            if not sep or not key:
                raise ValueError(
                    f"invalid publish opts format (should be name=value but got '{param}')"
                )
            params[key] = value
        out.append(f"{params.get('published', '')}:{params.get('target', '')}/{params['protocol']}")
    return out


def _exposed(items: list[str], ports: dict[str, Any]) -> None:
    for item in items:
        if ":" in item:
            raise ValueError(f"invalid port format for --expose: {item}")
        proto, port = _split_proto_port(item)
        try:
            start, end = _port_range(port)
        except ValueError as e:
            raise ValueError(f"invalid range format for --expose: {item}, error: {e}") from None
        for number in range(start, end + 1):
            ports.setdefault(f"{number}/{proto}", {})


_CDI = r"[A-Za-z0-9][A-Za-z0-9_.-]*(?:\.[A-Za-z0-9_.-]+)*/[A-Za-z0-9][A-Za-z0-9_-]*=.+"


def _device_mode(mode: str) -> bool:
    return bool(mode) and len(set(mode)) == len(mode) and set(mode) <= set("rwm")


def _clean(path: str) -> str:
    """Go's path.Clean."""
    cleaned = os.path.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def parse_device(device: str) -> dict[str, str]:
    """validateLinuxPath + parseLinuxDevice: `host[:container][:perms]`."""
    split = device.split(":")
    if len(split) > 3 or not split[0]:
        raise ValueError(f"bad format for path: {device}")
    if len(split) == 1:
        container_path, value = split[0], _clean(split[0])
    elif len(split) == 2 and _device_mode(split[1]):
        container_path, value = split[0], f"{_clean(split[0])}:{split[1]}"
    elif len(split) == 2:
        container_path, value = split[1], f"{split[0]}:{_clean(split[1])}"
    else:
        container_path, value = split[1], device
        if not _device_mode(split[2]):
            raise ValueError(f"bad mode specified: {split[2]}")
    if not container_path.startswith("/"):
        raise ValueError(f"{container_path} is not an absolute path")
    parts = value.split(":")
    target, mode = "", parts[2] if len(parts) == 3 else "rwm"
    if len(parts) >= 2:
        if _device_mode(parts[1]):
            mode = parts[1]
        else:
            target = parts[1]
    return {
        "PathOnHost": parts[0],
        "PathInContainer": target or parts[0],
        "CgroupPermissions": mode,
    }


def _json_compact(text: str) -> str:
    """encoding/json.Compact: whitespace outside strings dropped, nothing else changed."""
    out, in_string, escaped = [], False, False
    for char in text:
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif char not in " \t\r\n":
            out.append(char)
    return "".join(out)


def parse_security_opts(items: list[str]) -> tuple[list[str] | None, list[str] | None]:
    """(SecurityOpt, MaskedPaths/ReadonlyPaths override): a seccomp profile file is
    sent as its compacted JSON; systempaths=unconfined becomes empty path lists."""
    import json

    options = []
    unconfined = False
    for item in items:
        key, sep, value = item.partition("=")
        if not sep and key != "no-new-privileges":
            key, sep, value = item.partition(":")
        if (not sep or not value) and key != "no-new-privileges":
            raise ValueError(f"Invalid --security-opt: {go_quote(item)}")
        if key == "seccomp" and value not in ("builtin", "unconfined"):
            try:
                with open(value) as f:
                    text = f.read()
            except OSError as e:
                reason = (e.strerror or str(e)).lower()
                raise ValueError(
                    f"opening seccomp profile ({value}) failed: open {value}: {reason}"
                ) from None
            try:
                json.loads(text)
            except ValueError as e:
                raise ValueError(
                    f"compacting json for seccomp profile ({value}) failed: {e}"
                ) from None
            item = f"seccomp={_json_compact(text)}"
        if item == "systempaths=unconfined":
            unconfined = True
            continue
        options.append(item)
    return (options if items else None), ([] if unconfined else None)


def _normalize_caps(caps: list[str]) -> list[str] | None:
    """The Go client's normalizeCapabilities: CAP_-prefixed, upper case, unique, sorted."""
    out = set()
    for cap in caps:
        cap = cap.upper()
        if cap != "ALL" and not cap.startswith("CAP_"):
            cap = "CAP_" + cap
        out.add(cap)
    return sorted(out) or None


def parse_restart_policy(policy: str) -> dict[str, Any]:
    """opts.ParseRestartPolicy (names are the daemon's to check)."""
    if not policy:
        return {"Name": "", "MaximumRetryCount": 0}
    name, sep, count = policy.partition(":")
    if sep and not name:
        raise ValueError("invalid restart policy format: no policy provided before colon")
    retries = 0
    if count:
        try:
            retries = go_int(count)
        except ValueError:
            raise ValueError(
                "invalid restart policy format: maximum retry count must be an integer"
            ) from None
    return {"Name": name, "MaximumRetryCount": retries}


_NON_USER_DEFINED = ("default", "bridge", "host", "none")


def _user_defined(mode: str) -> bool:
    return mode not in _NON_USER_DEFINED and not mode.startswith("container:")


def _endpoint(attachment: dict[str, Any]) -> dict[str, Any]:
    """parseNetworkAttachmentOpt: one EndpointSettings, as the Go client sends it."""
    target = attachment["Target"]
    if not target.strip():
        raise ValueError("no name set for network")
    if not _user_defined(target):
        if attachment.get("Aliases"):
            raise ValueError("network-scoped aliases are only supported for user-defined networks")
        if attachment.get("Links"):
            raise ValueError("links are only supported for user-defined networks")
    ipam = None
    v4, v6 = attachment.get("IPv4Address", ""), attachment.get("IPv6Address", "")
    local = attachment.get("LinkLocalIPs")
    if v4 or v6 or local:
        ipam = {k: v for k, v in (("IPv4Address", v4), ("IPv6Address", v6)) if v}
        if local:
            ipam["LinkLocalIPs"] = local
    mac = attachment.get("MacAddress", "")
    if mac:
        _check_mac(mac)
    return {
        "IPAMConfig": ipam,
        "Links": attachment.get("Links") or None,
        "Aliases": attachment.get("Aliases") or None,
        "MacAddress": mac,
        "DriverOpts": attachment.get("DriverOpts") or None,
        "GwPriority": attachment.get("GwPriority", 0),
        "NetworkID": "",
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": None,
    }


_ENDPOINT_FLAGS = {
    "network_alias": ("Aliases", "--network-alias and per-network alias"),
    "ip": ("IPv4Address", "--ip and per-network IPv4 address"),
    "ip6": ("IPv6Address", "--ip6 and per-network IPv6 address"),
    "mac_address": ("MacAddress", "--mac-address and per-network MAC address"),
    "link_local_ip": ("LinkLocalIPs", "--link-local-ip and per-network link-local IP addresses"),
}


def _apply_container_options(attachment: dict[str, Any], opts: dict[str, Any]) -> None:
    """applyContainerOptions: --network-alias, --link, --ip, --ip6, --mac-address and
    --link-local-ip go to the first network."""
    for flag, (key, what) in _ENDPOINT_FLAGS.items():
        if attachment.get(key) and opts[flag]:
            raise ValueError(f"conflicting options: cannot specify both {what}")
        if opts[flag]:
            attachment[key] = list(opts[flag]) if isinstance(opts[flag], list) else opts[flag]
    if _user_defined(attachment["Target"]) and opts["link"]:
        attachment["Links"] = list(opts["link"])


def networking_config(opts: dict[str, Any]) -> dict[str, Any]:
    """parseNetworkOpts: the EndpointsConfig for --network (and the older flags)."""
    attachments = [dict(a) for a in opts["network"]]
    endpoints: dict[str, Any] = {}
    if not attachments:
        first = {"Target": "default"}
        _apply_container_options(first, opts)
        endpoints["default"] = _endpoint(first)
    kinds = set()
    for i, attachment in enumerate(attachments):
        kinds.add(_user_defined(attachment["Target"]))
        if i == 0:
            _apply_container_options(attachment, opts)
        endpoint = _endpoint(attachment)
        if attachment["Target"] in endpoints:
            raise ValueError(
                f"network {go_quote(attachment['Target'])} is specified multiple times"
            )
        if i == 0 and len(attachments) == 1 and endpoint == _endpoint({"Target": "x"}):
            continue
        endpoints[attachment["Target"]] = endpoint
    if len(kinds) == 2:
        raise ValueError(
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
        )
    return {"EndpointsConfig": endpoints}


def _health(opts: dict[str, Any]) -> dict[str, Any] | None:
    durations = {
        "Interval": opts["health_interval"],
        "Timeout": opts["health_timeout"],
        "StartPeriod": opts["health_start_period"],
        "StartInterval": opts["health_start_interval"],
    }
    have = bool(opts["health_cmd"] or opts["health_retries"] or any(durations.values()))
    if opts["no_healthcheck"]:
        if have:
            raise ValueError("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not have:
        return None
    for flag in ("interval", "timeout", "retries", "start_period", "start_interval"):
        if opts[f"health_{flag}"] < 0:
            raise ValueError(f"--health-{flag.replace('_', '-')} cannot be negative")
    health: dict[str, Any] = {}
    if opts["health_cmd"]:
        health["Test"] = ["CMD-SHELL", opts["health_cmd"]]
    health |= {k: v for k, v in durations.items() if v}
    if opts["health_retries"]:
        health["Retries"] = opts["health_retries"]
    return health


def _env_lookup(key: str) -> str | None:
    return os.environ.get(key)


def _env(opts: dict[str, Any]) -> list[str] | None:
    """--env-file lines, then -e (by key: a later -e replaces an earlier one, as the
    docker CLI's proxy-config pass over a map does)."""
    env: list[str] = []
    for path in opts["env_file"]:
        env += parse_kv_file(path, _env_lookup)
    by_key: dict[str, str] = {}
    for item in opts["env"]:
        by_key[item.partition("=")[0]] = item
    env += by_key.values()
    return env or None


def _binds_and_volumes(items: list[str]) -> tuple[list[str] | None, dict[str, Any]]:
    binds, volumes = [], {}
    for spec in dict.fromkeys(items):
        source, kind = parse_volume_spec(spec)
        if not source:
            volumes[spec] = {}
            continue
        if kind == "bind":
            host, sep, target = spec.partition(":")
            if sep and not host.startswith("/") and host.startswith("."):
                spec = os.path.abspath(host) + ":" + target
        binds.append(spec)
    return binds or None, volumes
