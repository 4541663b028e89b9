"""`run`/`create`/`update` flag values as pflag checks them while it parses (pure).

Each function is one Flag's `convert`: Go's strconv numbers, docker's validators
(env, label, ip, dns search, extra hosts, links, sysctls, device cgroup rules),
weight and throttle devices, ulimits, `--mount`, `--network` and `--gpus` in
their CSV forms. A refusal raises ValueError with docker's text; flags.py words it
as pflag (`invalid argument "V" for "--f" flag: ...`). Sizes and durations are
go-units and Go's, from proto/units.py and proto/timetypes.py.
"""

from __future__ import annotations

import os

from dockyard.proto.units import num_error, ram_in_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def _re() -> Any:
    """`re`, imported when a value needs it (~14 ms: parsing flags and --help go without)."""
    import re

    return re


def _fullmatch(pattern: str, text: str) -> bool:
    return _re().fullmatch(pattern, text) is not None


# -- Go's number parsers (sizes and durations: proto.units, proto.timetypes) ---------
def go_int(text: str, bits: int = 64, unsigned: bool = False) -> int:
    """strconv.ParseInt / ParseUint (base 10)."""
    func = "ParseUint" if unsigned else "ParseInt"
    digits = text if unsigned else text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()):
        raise num_error(func, text, "invalid syntax")
    value = int(text)
    low, high = (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if not low <= value <= high:
        raise num_error(func, text, "value out of range")
    return value


def _int_flag(bits: int = 64, unsigned: bool = False) -> Callable[[str], int]:
    return lambda text: go_int(text, bits, unsigned)


def nano_cpus(text: str) -> int:
    """opts.ParseCPUs: a rational number of CPUs, in billionths."""
    from fractions import Fraction

    if not _fullmatch(
        r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?[0-9]+/[0-9]+", text
    ):
        raise ValueError(f"failed to parse {text} as a rational number")
    try:
        nano = Fraction(text) * 10**9
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"failed to parse {text} as a rational number") from None
    if nano.denominator != 1:
        raise ValueError("value is too precise")
    return int(nano)


def go_quote(text: str) -> str:
    """Go's %q for the strings flags carry."""
    import json

    return json.dumps(text, ensure_ascii=False)


def parse_bool(text: str) -> bool:
    """strconv.ParseBool."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(text)


# -- validators that run as pflag sets each value -----------------------------------------
def validate_attach(value: str) -> str:
    if value.lower() in ("stdin", "stdout", "stderr"):
        return value.lower()
    raise ValueError("valid streams are STDIN, STDOUT and STDERR")


def validate_env(value: str) -> str:
    """opts.ValidateEnv: a bare KEY takes its value from our environment when set."""
    key, sep, _ = value.partition("=")
    if not key:
        raise ValueError(f"invalid environment variable: {value}")
    if sep or key not in os.environ:
        return value
    return f"{key}={os.environ[key]}"


def validate_label(value: str) -> str:
    key = value.partition("=")[0].lstrip(" \t")
    if not key:
        raise ValueError(f"invalid label '{value}': empty name")
    if " " in key or "\t" in key:
        raise ValueError(f"label '{key}' contains whitespaces")
    return value


def _parse_ip(text: str) -> str | None:
    """net.ParseIP, in Go's String() form; None if not an address."""
    import ipaddress

    if "%" in text or "/" in text:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


def is_loopback(address: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def validate_ip(value: str) -> str:
    address = _parse_ip(value.strip())
    if address is None:
        raise ValueError(f"IP address is not correctly formatted: {value}")
    return address


_DOMAIN = (
    r"^(:?(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9]))"
    r"(:?\.(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])))*)\.?\s*$"
)


def validate_dns_search(value: str) -> str:
    value = value.strip(" ")
    if value == ".":
        return value
    has_letter = any(c.isascii() and c.isalpha() for c in value)
    match = _re().match(_DOMAIN, value) if has_letter else None
    if match and len(match.group(1)) < 255:
        return match.group(1)
    raise ValueError(f"{value} is not a valid domain")


def validate_extra_host(value: str) -> str:
    key, sep, address = value.partition("=")
    if not sep:
        key, sep, address = value.partition(":")
    if not sep or not key or ":" in key:
        raise ValueError(f"bad format for add-host: {go_quote(value)}")
    if address != "host-gateway":
        if len(address) > 2 and address[0] == "[" and address[-1] == "]":
            address = address[1:-1]
        if _parse_ip(address.strip()) is None:
            raise ValueError(f"invalid IP address in add-host: {go_quote(address)}")
    return f"{key}:{address}"


def validate_link(value: str) -> str:
    if not value:
        raise ValueError("empty string specified for links")
    if value.count(":") > 1:
        raise ValueError(f"bad format for links: {value}")
    return value


_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall"}
_SYSCTLS |= {"kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}


def validate_sysctl(value: str) -> str:
    key, sep, _ = value.partition("=")
    if sep and key and (key in _SYSCTLS or key.startswith(("net.", "fs.mqueue."))):
        return value
    raise ValueError(f"sysctl '{value}' is not allowed")


_CGROUP_RULE = r"[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}"


def validate_device_cgroup_rule(value: str) -> str:
    if _fullmatch(_CGROUP_RULE, value):
        return value
    raise ValueError(f"invalid device cgroup format '{value}'")


def _device_path(value: str) -> tuple[str, str]:
    path, sep, rest = value.partition(":")
    if not sep or not path:
        raise ValueError(f"bad format: {value}")
    if not path.startswith("/dev/"):
        raise ValueError(f"bad format for device path: {value}")
    return path, rest


def weight_device(value: str) -> dict[str, Any]:
    path, rest = _device_path(value)
    try:
        weight = go_int(rest, 16, unsigned=True)
    except ValueError:
        raise ValueError(f"invalid weight for device: {value}") from None
    if weight > 0 and not 10 <= weight <= 1000:
        raise ValueError(f"invalid weight for device: {value}")
    return {"Path": path, "Weight": weight}


def throttle_bps_device(value: str) -> dict[str, Any]:
    path, rest = _device_path(value)
    try:
        rate = ram_in_bytes(rest)
    except ValueError:
        rate = -1
    if rate < 0:
        raise ValueError(
            f"invalid rate for device: {value}. The correct format is "
            "<device-path>:<number>[<unit>]. Number must be a positive integer. "
            "Unit is optional and can be kb, mb, or gb"
        )
    return {"Path": path, "Rate": rate}


def throttle_iops_device(value: str) -> dict[str, Any]:
    path, rest = _device_path(value)
    try:
        rate = go_int(rest, 64, unsigned=True)
    except ValueError:
        raise ValueError(
            f"invalid rate for device: {value}. The correct format is "
            "<device-path>:<number>. Number must be a positive integer"
        ) from None
    return {"Path": path, "Rate": rate}


_ULIMITS = {"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice"}
_ULIMITS |= {"nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"}


def ulimit(value: str) -> dict[str, Any]:
    """go-units ParseUlimit: name=soft[:hard]."""
    name, sep, limits = value.partition("=")
    if not sep:
        raise ValueError(f"invalid ulimit argument: {value}")
    if name not in _ULIMITS:
        raise ValueError(f"invalid ulimit type: {name}")
    parts = limits.split(":")
    if len(parts) > 2:
        raise ValueError(
            f"too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`"
        )
    hard = go_int(parts[1]) if len(parts) == 2 else None
    soft = go_int(parts[0])
    hard = soft if hard is None else hard
    if hard != -1:
        if soft == -1:
            raise ValueError(
                "ulimit soft limit must be less than or equal to hard limit: "
                f"soft: -1 (unlimited), hard: {hard}"
            )
        if soft > hard:
            raise ValueError(
                f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )
    return {"Name": name, "Hard": hard, "Soft": soft}


def _csv_fields(value: str) -> list[str]:
    """One line of Go's encoding/csv (quotes allowed), as --mount, --network, --gpus read it."""
    import csv

    try:
        return next(csv.reader([value], strict=True))
    except (csv.Error, StopIteration):
        raise ValueError(f'parse error on line 1: bare " in non-quoted-field: {value}') from None


_BIND_RECURSIVE = {"enabled": "", "disabled": "NonRecursive", "writable": "ReadOnlyNonRecursive",
                   "readonly": "ReadOnlyForceRecursive"}  # fmt: skip


def mount(value: str) -> dict[str, Any]:
    """opts.MountOpt.Set: the --mount csv, as the API's Mount."""
    result: dict[str, Any] = {"Type": "volume"}
    sections: dict[str, dict[str, Any]] = {}

    def section(name: str) -> dict[str, Any]:
        if name not in sections:
            sections[name] = {"Labels": {}, "DriverConfig": {}} if name == "VolumeOptions" else {}
        return sections[name]

    def invalid(key: str, val: str) -> ValueError:
        return ValueError(f"invalid value for {key}: {val}")

    def boolean(key: str, val: str) -> bool:
        try:
            return parse_bool(val)
        except ValueError:
            raise invalid(key, val) from None

    for field in _csv_fields(value):
        key, sep, val = field.partition("=")
        key = key.lower()
        if not sep:
            if key in ("readonly", "ro"):
                result["ReadOnly"] = True
            elif key == "volume-nocopy":
                section("VolumeOptions")["NoCopy"] = True
            elif key == "bind-nonrecursive":
                section("BindOptions")["NonRecursive"] = True
            else:
                raise ValueError(f"invalid field '{field}' must be a key=value pair")
            continue
        if key == "type":
            result["Type"] = val.lower()
        elif key in ("source", "src"):
            result["Source"] = os.path.abspath(val) if val.startswith(".") else val
        elif key in ("target", "dst", "destination"):
            result["Target"] = val
        elif key in ("readonly", "ro"):
            result["ReadOnly"] = boolean(key, val)
        elif key == "consistency":
            result["Consistency"] = val.lower()
        elif key == "bind-propagation":
            section("BindOptions")["Propagation"] = val.lower()
        elif key == "bind-nonrecursive":
            section("BindOptions")["NonRecursive"] = boolean(key, val)
        elif key == "bind-recursive":
            if val not in _BIND_RECURSIVE:
                raise ValueError(
                    f"invalid value for {key}: {val} "
                    '(must be "enabled", "disabled", "writable", or "readonly")'
                )
            if _BIND_RECURSIVE[val]:
                section("BindOptions")[_BIND_RECURSIVE[val]] = True
        elif key == "volume-subpath":
            section("VolumeOptions")["Subpath"] = val
        elif key == "volume-nocopy":
            section("VolumeOptions")["NoCopy"] = boolean(key, val)
        elif key == "volume-label":
            k, _, v = val.partition("=")
            if k:
                section("VolumeOptions")["Labels"][k] = v
        elif key == "volume-driver":
            section("VolumeOptions")["DriverConfig"]["Name"] = val
        elif key == "volume-opt":
            k, _, v = val.partition("=")
            driver = section("VolumeOptions")["DriverConfig"]
            options = driver.setdefault("Options", {})
            if k:
                options[k] = v
        elif key == "image-subpath":
            section("ImageOptions")["Subpath"] = val
        elif key == "tmpfs-size":
            try:
                section("TmpfsOptions")["SizeBytes"] = ram_in_bytes(val)
            except ValueError:
                raise invalid(key, val) from None
        elif key == "tmpfs-mode":
            if not _fullmatch("[0-7]+", val) or int(val, 8) >= 1 << 32:
                raise invalid(key, val)
            section("TmpfsOptions")["Mode"] = int(val, 8)
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")
    kind = result["Type"]
    if not kind:
        raise ValueError("type is required")
    if not result.get("Target"):
        raise ValueError("target is required")
    for name, owner in (
        ("VolumeOptions", "volume"),
        ("ImageOptions", "image"),
        ("BindOptions", "bind"),
        ("TmpfsOptions", "tmpfs"),
    ):
        if name in sections and kind != owner:
            prefix = name[: -len("Options")].lower()
            raise ValueError(f"cannot mix '{prefix}-*' options with mount type '{kind}'")
    bind = sections.get("BindOptions", {})
    if bind.get("ReadOnlyNonRecursive") and not result.get("ReadOnly"):
        raise ValueError(
            "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction"
        )
    if bind.get("ReadOnlyForceRecursive"):
        if not result.get("ReadOnly"):
            raise ValueError(
                "option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction"
            )
        if bind.get("Propagation") != "rprivate":
            raise ValueError(
                "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' "
                "to be specified in conjunction"
            )
    result.update(sections)
    return _without_zero(result)


def _without_zero(value: Any) -> Any:
    """Go's `omitempty` over a Mount: empty strings, false, zero and empty maps go."""
    if isinstance(value, dict):
        out = {k: _without_zero(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in ("", False, 0, None, {})}
    return value


_NETWORK_FIELDS = {"name": "Target", "ip": "IPv4Address", "ip6": "IPv6Address",
                   "mac-address": "MacAddress"}  # fmt: skip


def network(value: str) -> dict[str, Any]:
    """opts.NetworkOpt.Set: a name, or the csv form name=..,alias=..,ip=..."""
    if "=" not in value or not _re().search(r"\w+=\w+(,\w+=\w+)*", value):
        return {"Target": value}
    attachment: dict[str, Any] = {"Target": "", "Aliases": []}
    for field in _csv_fields(value):
        key, sep, val = field.lower().partition("=")
        if not sep or not key:
            raise ValueError(f"invalid field {field}")
        key, val = key.strip(), val.strip()
        if key in _NETWORK_FIELDS:
            attachment[_NETWORK_FIELDS[key]] = val
        elif key == "alias":
            attachment["Aliases"].append(val)
        elif key == "link-local-ip":
            attachment.setdefault("LinkLocalIPs", []).append(val)
        elif key == "driver-opt":
            k, sep, v = val.partition("=")
            if not sep or not k:
                raise ValueError("invalid key value pair format in driver options")
            attachment.setdefault("DriverOpts", {})[k.strip()] = v.strip()
        elif key == "gw-priority":
            try:
                attachment["GwPriority"] = go_int(val)
            except ValueError as e:
                reason = str(e).rpartition(": ")[2]
                raise ValueError(f"invalid gw-priority ({val}): {reason}") from None
        else:
            raise ValueError(f"invalid field key {key}")
    if not attachment["Target"]:
        raise ValueError("network name/id is not specified")
    return attachment


def gpu_request(value: str) -> dict[str, Any]:
    """opts.GpuOpts.Set: `all`, a count, or driver=..,count=..,device=..,capabilities=.."""

    def count(text: str) -> int:
        if text == "all":
            return -1
        try:
            return go_int(text)
        except ValueError as e:
            reason = str(e).rpartition(": ")[2]
            raise ValueError(
                f'invalid count ({text}): value must be either "all" or an integer: {reason}'
            ) from None

    request: dict[str, Any] = {"Driver": "", "Count": 0, "DeviceIDs": None}
    request |= {"Capabilities": None, "Options": None}
    seen: set[str] = set()
    for field in _csv_fields(value):
        key, sep, val = field.partition("=")
        if key in seen:
            raise ValueError(f"gpu request key '{key}' can be specified only once")
        seen.add(key)
        if not sep:
            seen.add("count")
            request["Count"] = count(key)
        elif key == "driver":
            request["Driver"] = val
        elif key == "count":
            request["Count"] = count(val)
        elif key == "device":
            request["DeviceIDs"] = val.split(",")
        elif key == "capabilities":
            request["Capabilities"] = [[*val.split(","), "gpu"]]
        elif key == "options":
            request["Options"] = dict(kv.partition("=")[::2] for kv in _csv_fields(val))
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")
    if "count" not in seen and request["DeviceIDs"] is None:
        request["Count"] = 1
    request["Options"] = request["Options"] or {}
    request["Capabilities"] = request["Capabilities"] or [["gpu"]]
    return request


def validate_pull(value: str) -> None:
    if value not in ("always", "missing", "never", ""):
        raise ValueError(
            f'invalid pull option: \'{value}\': must be one of "always", "missing" or "never"'
        )
