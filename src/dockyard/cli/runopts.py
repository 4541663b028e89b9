"""`run`/`create` flags and their POST /containers/create body (pure, no I/O but reading
the files a flag names: --env-file, --label-file, a seccomp profile).

Mirrors the docker CLI 28.2 (`cli/command/container/opts.go` and the `opts` package):
the flag table with docker's names, shorts, types and help; the checks pflag makes
while it parses a value (each Flag's `convert`; flags.py words the failure as pflag:
`invalid argument "V" for "--f" flag: ...`); and the mapping to Config, HostConfig and NetworkingConfig, key for key as
the docker CLI's JSON (the Go client's own edits included: capabilities upper-cased
and sorted, KernelMemory and Config.MacAddress dropped on API >= 1.44). Checks that
need the whole set raise ValueError with docker's text, printed as `dockyard: ...`.
"""

from __future__ import annotations

import os

from dockyard.cli.flags import BOOL, INT, LIST, STRING, Flag
from dockyard.cli.network import kv_list
from dockyard.proto.timetypes import go_duration
from dockyard.proto.units import mem_swap_bytes, num_error, ram_in_bytes

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


# -- the flag table -------------------------------------------------------------------
_CGROUPNS_HELP = """Cgroup namespace to use (host|private)
'host':    Run the container in the Docker host's cgroup namespace
'private': Run the container in its own private cgroup namespace
'':        Use the cgroup namespace as configured by the
           default-cgroupns-mode option on the daemon (default)"""


def _list(long: str, help: str, short: str = "", convert: Any = None, **kw: Any) -> Flag:
    return Flag(long, short, LIST, help, metavar=kw.pop("metavar", "list"), convert=convert, **kw)


def _str(long: str, help: str, short: str = "", default: Any = None, **kw: Any) -> Flag:
    return Flag(long, short, STRING, help, default, kw.pop("metavar", "string"), **kw)


def _int(long: str, help: str, short: str = "", default: int = 0, bits: int = 64) -> Flag:
    return Flag(long, short, INT, help, default, "int", convert=_int_flag(bits))


def _bytes(long: str, help: str, short: str = "", convert: Any = ram_in_bytes) -> Flag:
    return Flag(long, short, STRING, help, 0, "bytes", convert=convert)


def _duration(long: str, help: str) -> Flag:
    return Flag(long, "", STRING, help, 0, "duration", convert=go_duration)


_DEV_BPS_HELP = "Limit {} rate (bytes per second) {} a device (default [])"
_DEV_IOPS_HELP = "Limit {} rate (IO per second) {} a device (default [])"
CONTAINER_FLAGS = (
    _list("add-host", "Add a custom host-to-IP mapping (host:ip)", convert=validate_extra_host),
    _list(
        "annotation",
        "Add an annotation to the container (passed through to the OCI runtime) (default map[])",
        metavar="map",
    ),
    _list("attach", "Attach to STDIN, STDOUT or STDERR", "a", validate_attach),
    Flag(
        "blkio-weight",
        "",
        INT,
        "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)",
        0,
        "uint16",
        convert=_int_flag(16, unsigned=True),
    ),
    _list(
        "blkio-weight-device",
        "Block IO weight (relative device weight) (default [])",
        convert=weight_device,
    ),  # fmt: skip
    _list("cap-add", "Add Linux capabilities"),
    _list("cap-drop", "Drop Linux capabilities"),
    _str("cgroup-parent", "Optional parent cgroup for the container", default=""),
    _str("cgroupns", _CGROUPNS_HELP, default=""),
    _str("cidfile", "Write the container ID to the file", default=""),
    _int("cpu-count", "CPU count (Windows only)"),
    _int("cpu-percent", "CPU percent (Windows only)"),
    _int("cpu-period", "Limit CPU CFS (Completely Fair Scheduler) period"),
    _int("cpu-quota", "Limit CPU CFS (Completely Fair Scheduler) quota"),
    _int("cpu-rt-period", "Limit CPU real-time period in microseconds"),
    _int("cpu-rt-runtime", "Limit CPU real-time runtime in microseconds"),
    _int("cpu-shares", "CPU shares (relative weight)", "c"),
    Flag("cpus", "", STRING, "Number of CPUs", 0, "decimal", convert=nano_cpus),
    _str("cpuset-cpus", "CPUs in which to allow execution (0-3, 0,1)", default=""),
    _str("cpuset-mems", "MEMs in which to allow execution (0-3, 0,1)", default=""),
    _list("device", "Add a host device to the container"),
    _list(
        "device-cgroup-rule",
        "Add a rule to the cgroup allowed devices list",
        convert=validate_device_cgroup_rule,
    ),  # fmt: skip
    _list("device-read-bps", _DEV_BPS_HELP.format("read", "from"), convert=throttle_bps_device),
    _list("device-read-iops", _DEV_IOPS_HELP.format("read", "from"), convert=throttle_iops_device),
    _list("device-write-bps", _DEV_BPS_HELP.format("write", "to"), convert=throttle_bps_device),
    _list("device-write-iops", _DEV_IOPS_HELP.format("write", "to"), convert=throttle_iops_device),
    Flag("disable-content-trust", "", BOOL, "Skip image verification (default true)", True),
    _list("dns", "Set custom DNS servers", convert=validate_ip),
    _list("dns-opt", "Set DNS options", dest="dns_option", hidden=True),
    _list("dns-option", "Set DNS options"),
    _list("dns-search", "Set custom DNS search domains", convert=validate_dns_search),
    _str("domainname", "Container NIS domain name", default=""),
    _str("entrypoint", "Overwrite the default ENTRYPOINT of the image", default=""),
    _list("env", "Set environment variables", "e", validate_env),
    _list("env-file", "Read in a file of environment variables"),
    _list("expose", "Expose a port or a range of ports"),
    _list(
        "gpus",
        "GPU devices to add to the container ('all' to pass all GPUs)",
        convert=gpu_request,
        metavar="gpu-request",
    ),  # fmt: skip
    _list("group-add", "Add additional groups to join"),
    _str("health-cmd", "Command to run to check health", default=""),
    _duration("health-interval", "Time between running the check (ms|s|m|h) (default 0s)"),
    _int("health-retries", "Consecutive failures needed to report unhealthy"),
    _duration(
        "health-start-interval",
        "Time between running the check during the start period (ms|s|m|h) (default 0s)",
    ),
    _duration(
        "health-start-period",
        "Start period for the container to initialize before starting health-retries "
        "countdown (ms|s|m|h) (default 0s)",
    ),
    _duration("health-timeout", "Maximum time to allow one check to run (ms|s|m|h) (default 0s)"),
    _str("hostname", "Container host name", "h", ""),
    Flag(
        "init",
        "",
        BOOL,
        "Run an init inside the container that forwards signals and reaps processes",
    ),
    Flag("interactive", "i", BOOL, "Keep STDIN open even if not attached"),
    _bytes("io-maxbandwidth", "Maximum IO bandwidth limit for the system drive (Windows only)"),
    Flag(
        "io-maxiops",
        "",
        INT,
        "Maximum IOps limit for the system drive (Windows only)",
        0,
        "uint",
        convert=_int_flag(64, unsigned=True),
    ),  # fmt: skip
    _str("ip", "IPv4 address (e.g., 172.30.100.104)", default=""),
    _str("ip6", "IPv6 address (e.g., 2001:db8::33)", default=""),
    _str("ipc", "IPC mode to use", default=""),
    _str("isolation", "Container isolation technology", default=""),
    _bytes("kernel-memory", "Kernel memory limit"),
    _list("label", "Set meta data on a container", "l", validate_label),
    _list("label-file", "Read in a line delimited file of labels"),
    _list("link", "Add link to another container", convert=validate_link),
    _list("link-local-ip", "Container IPv4/IPv6 link-local addresses"),
    _str("log-driver", "Logging driver for the container", default=""),
    _list("log-opt", "Log driver options"),
    _str("mac-address", "Container MAC address (e.g., 92:d0:c6:0a:29:33)", default=""),
    _bytes("memory", "Memory limit", "m"),
    _bytes("memory-reservation", "Memory soft limit"),
    _bytes(
        "memory-swap",
        "Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
        convert=mem_swap_bytes,
    ),  # fmt: skip
    _int("memory-swappiness", "Tune container memory swappiness (0 to 100) (default -1)", "", -1),
    _list("mount", "Attach a filesystem mount to the container", convert=mount, metavar="mount"),
    _str("name", "Assign a name to the container", default=""),
    _list(
        "net",
        "Connect a container to a network",
        convert=network,
        dest="network",
        hidden=True,
        metavar="network",
    ),  # fmt: skip
    _list(
        "net-alias", "Add network-scoped alias for the container", dest="network_alias", hidden=True
    ),  # fmt: skip
    _list("network", "Connect a container to a network", convert=network, metavar="network"),
    _list("network-alias", "Add network-scoped alias for the container"),
    Flag("no-healthcheck", "", BOOL, "Disable any container-specified HEALTHCHECK"),
    Flag("oom-kill-disable", "", BOOL, "Disable OOM Killer"),
    _int("oom-score-adj", "Tune host's OOM preferences (-1000 to 1000)"),
    _str("pid", "PID namespace to use", default=""),
    _int("pids-limit", "Tune container pids limit (set -1 for unlimited)"),
    _str("platform", "Set platform if server is multi-platform capable", default=""),
    Flag("privileged", "", BOOL, "Give extended privileges to this container"),
    _list("publish", "Publish a container's port(s) to the host", "p"),
    Flag("publish-all", "P", BOOL, "Publish all exposed ports to random ports"),
    Flag("quiet", "q", BOOL, "Suppress the pull output"),
    Flag("read-only", "", BOOL, "Mount the container's root filesystem as read only"),
    _str("restart", 'Restart policy to apply when a container exits (default "no")', default="no"),
    Flag(
        "rm",
        "",
        BOOL,
        "Automatically remove the container and its associated anonymous volumes when it exits",
    ),  # fmt: skip
    _str("runtime", "Runtime to use for this container", default=""),
    _list("security-opt", "Security Options"),
    _bytes("shm-size", "Size of /dev/shm"),
    _str("stop-signal", "Signal to stop the container", default=""),
    _int("stop-timeout", "Timeout (in seconds) to stop a container"),
    _list("storage-opt", "Storage driver options for the container"),
    _list("sysctl", "Sysctl options (default map[])", convert=validate_sysctl, metavar="map"),
    _list("tmpfs", "Mount a tmpfs directory"),
    Flag("tty", "t", BOOL, "Allocate a pseudo-TTY"),
    _list("ulimit", "Ulimit options (default [])", convert=ulimit, metavar="ulimit"),
    Flag("use-api-socket", "", BOOL, "Bind mount Docker API socket and required auth"),
    _str("user", "Username or UID (format: <name|uid>[:<group|gid>])", "u", ""),
    _str("userns", "User namespace to use", default=""),
    _str("uts", "UTS namespace to use", default=""),
    _list("volume", "Bind mount a volume", "v"),
    _str("volume-driver", "Optional volume driver for the container", default=""),
    _list("volumes-from", "Mount volumes from the specified container(s)"),
    _str("workdir", "Working directory inside the container", "w", ""),
)
RUN_ONLY_FLAGS = (
    Flag("detach", "d", BOOL, "Run container in background and print container ID"),
    _str("detach-keys", "Override the key sequence for detaching a container", default=""),
    Flag("sig-proxy", "", BOOL, "Proxy received signals to the process (default true)", True),
)


def pull_flag(verb: str) -> Flag:
    """--pull; `create`'s help has docker's stray "|" in it."""
    choices = (
        '"always", "missing", "never"' if verb == "running" else '"always", "|missing", "never"'
    )
    return _str(
        "pull", f'Pull image before {verb} ({choices}) (default "missing")', default="missing"
    )


WINDOWS_ONLY = ("cpu_count", "cpu_percent", "io_maxbandwidth", "io_maxiops")


def windows_only_flag(changed: set[str]) -> str | None:
    """docker's check of flags annotated ostype=windows against a Linux daemon."""
    for dest in WINDOWS_ONLY:
        if dest in changed:
            name = dest.replace("_", "-")
            return (
                f'"--{name}" is only supported on a Docker daemon running on windows, '
                "but the Docker daemon is running on linux"
            )
    return None


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


def build_create_body(opts: dict[str, Any], image: str, command: list[str]) -> dict[str, Any]:
    """The POST /containers/create body for run/create flags, as docker 28.2 sends it
    (`run -d` attaches nothing)."""
    changed = opts.get("_changed", set())
    attach = opts["attach"]
    attach_stdin = "stdin" in attach or opts["interactive"]
    attach_stdout = "stdout" in attach or not attach
    attach_stderr = "stderr" in attach or not attach
    if opts["mac_address"]:
        _check_mac(opts["mac_address"])
    swappiness = opts["memory_swappiness"]
    if swappiness != -1 and not 0 <= swappiness <= 100:
        raise ValueError(f"invalid value: {swappiness}. Valid memory swappiness range is 0-100")
    binds, volumes = _binds_and_volumes(opts["volume"])
    tmpfs = {}
    for item in opts["tmpfs"]:
        path, _, options = item.partition(":")
        tmpfs[path] = options
    entrypoint = None
    if opts["entrypoint"]:
        entrypoint = [opts["entrypoint"]]
    elif "entrypoint" in changed:
        entrypoint = [""]
    exposed, bindings = parse_port_specs(_standard_notation(opts["publish"]))
    _exposed(opts["expose"], exposed)
    devices, cdi = [], []
    for device in opts["device"]:
        if _fullmatch(_CDI, device):
            cdi.append(device)
        else:
            devices.append(parse_device(device))
    env = _env(opts)
    labels: list[str] = []
    for path in opts["label_file"]:
        labels += parse_kv_file(path, None)
    labels += opts["label"]
    pid = opts["pid"]
    if not (pid in ("", "host") or (pid.startswith("container:") and pid[10:])):
        raise ValueError("--pid: invalid PID mode")
    if opts["uts"] not in ("", "host"):
        raise ValueError("--uts: invalid UTS mode")
    if opts["userns"] not in ("", "host"):
        raise ValueError("--userns: invalid USER mode")
    if opts["cgroupns"] not in ("", "host", "private"):
        raise ValueError("--cgroupns: invalid CGROUP mode")
    restart = parse_restart_policy(opts["restart"])
    log_opts = kv_list(opts["log_opt"])
    if opts["log_driver"] == "none" and opts["log_opt"]:
        raise ValueError(f"invalid logging opts for driver {opts['log_driver']}")
    security, system_paths = parse_security_opts(opts["security_opt"])
    storage = {}
    for item in opts["storage_opt"]:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError("invalid storage option")
        storage[key] = value
    health = _health(opts)
    requests = list(opts["gpus"])
    if cdi:
        requests.append({"Driver": "cdi", "Count": 0, "DeviceIDs": cdi,
                         "Capabilities": None, "Options": None})  # fmt: skip
    networks = opts["network"]
    network_mode = networks[0]["Target"] if networks else "default"
    host_config: dict[str, Any] = {
        "Binds": binds,
        "ContainerIDFile": opts["cidfile"],
        "LogConfig": {"Type": opts["log_driver"], "Config": log_opts},
        "NetworkMode": network_mode,
        "PortBindings": bindings,
        "RestartPolicy": restart,
        "AutoRemove": opts["rm"],
        "VolumeDriver": opts["volume_driver"],
        "VolumesFrom": opts["volumes_from"] or None,
        "ConsoleSize": [0, 0],
        "CapAdd": _normalize_caps(opts["cap_add"]),
        "CapDrop": _normalize_caps(opts["cap_drop"]),
        "CgroupnsMode": opts["cgroupns"],
        "Dns": opts["dns"],
        "DnsOptions": opts["dns_option"],
        "DnsSearch": opts["dns_search"],
        "ExtraHosts": opts["add_host"] or None,
        "GroupAdd": opts["group_add"] or None,
        "IpcMode": opts["ipc"],
        "Cgroup": "",
        "Links": opts["link"] or None,
        "OomScoreAdj": opts["oom_score_adj"],
        "PidMode": pid,
        "Privileged": opts["privileged"],
        "PublishAllPorts": opts["publish_all"],
        "ReadonlyRootfs": opts["read_only"],
        "SecurityOpt": security,
        "UTSMode": opts["uts"],
        "UsernsMode": opts["userns"],
        "ShmSize": opts["shm_size"],
        "Isolation": opts["isolation"],
        "CpuShares": opts["cpu_shares"],
        "Memory": opts["memory"],
        "NanoCpus": opts["cpus"],
        "CgroupParent": opts["cgroup_parent"],
        "BlkioWeight": opts["blkio_weight"],
        "BlkioWeightDevice": opts["blkio_weight_device"],
        "BlkioDeviceReadBps": opts["device_read_bps"],
        "BlkioDeviceWriteBps": opts["device_write_bps"],
        "BlkioDeviceReadIOps": opts["device_read_iops"],
        "BlkioDeviceWriteIOps": opts["device_write_iops"],
        "CpuPeriod": opts["cpu_period"],
        "CpuQuota": opts["cpu_quota"],
        "CpuRealtimePeriod": opts["cpu_rt_period"],
        "CpuRealtimeRuntime": opts["cpu_rt_runtime"],
        "CpusetCpus": opts["cpuset_cpus"],
        "CpusetMems": opts["cpuset_mems"],
        "Devices": devices,
        "DeviceCgroupRules": opts["device_cgroup_rule"] or None,
        "DeviceRequests": requests or None,
        "MemoryReservation": opts["memory_reservation"],
        "MemorySwap": opts["memory_swap"],
        "MemorySwappiness": swappiness,
        "OomKillDisable": opts["oom_kill_disable"],
        "PidsLimit": opts["pids_limit"],
        "Ulimits": sorted({u["Name"]: u for u in opts["ulimit"]}.values(), key=lambda u: u["Name"]),
        "CpuCount": opts["cpu_count"],
        "CpuPercent": opts["cpu_percent"],
        "IOMaximumIOps": opts["io_maxiops"],
        "IOMaximumBandwidth": opts["io_maxbandwidth"],
        "MaskedPaths": system_paths,
        "ReadonlyPaths": system_paths,
    }
    for key, value in (
        ("Annotations", kv_list(opts["annotation"])),
        ("StorageOpt", storage),
        ("Tmpfs", tmpfs),
        ("Sysctls", kv_list(opts["sysctl"])),
        ("Runtime", opts["runtime"]),
        ("Mounts", opts["mount"]),
    ):
        if value:
            host_config[key] = value
    if opts["rm"] and restart["Name"] not in ("", "no"):
        raise ValueError("conflicting options: cannot specify both --restart and --rm")
    if "init" in changed:
        host_config["Init"] = opts["init"]
    if opts.get("detach"):
        attach_stdin = attach_stdout = attach_stderr = False
    body: dict[str, Any] = {
        "Hostname": opts["hostname"],
        "Domainname": opts["domainname"],
        "User": opts["user"],
        "AttachStdin": attach_stdin,
        "AttachStdout": attach_stdout,
        "AttachStderr": attach_stderr,
    }
    if exposed:
        body["ExposedPorts"] = exposed
    body |= {
        "Tty": opts["tty"],
        "OpenStdin": opts["interactive"],
        "StdinOnce": opts["interactive"] and attach_stdin,
        "Env": env,
        "Cmd": command or None,
    }
    if health is not None:
        body["Healthcheck"] = health
    body |= {
        "Image": image,
        "Volumes": volumes,
        "WorkingDir": opts["workdir"],
        "Entrypoint": entrypoint,
        "OnBuild": None,
        "Labels": kv_list(labels),
    }
    if opts["stop_signal"]:
        body["StopSignal"] = opts["stop_signal"]
    if "stop_timeout" in changed:
        body["StopTimeout"] = opts["stop_timeout"]
    body["HostConfig"] = host_config
    body["NetworkingConfig"] = networking_config(opts)
    return body


_ARCHES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm",
           "armel": "arm", "i386": "386", "i686": "386"}  # fmt: skip


def parse_platform(text: str) -> str:
    """containerd's platforms.Parse + Format for --platform: `os[/arch[/variant]]`."""
    import platform as host

    parts = text.lower().split("/")
    if len(parts) > 3:
        raise ValueError(
            f"error parsing specified platform: {go_quote(text)}: "
            "cannot parse platform specifier: invalid argument"
        )
    machine = _ARCHES.get(host.machine().lower(), host.machine().lower())
    if len(parts) == 1:
        word = _ARCHES.get(parts[0], parts[0])
        known_os = ("linux", "windows", "darwin", "freebsd")
        os_name, arch = (word, machine) if word in known_os else ("linux", word)
        variant = ""
    else:
        os_name, arch = parts[0], _ARCHES.get(parts[1], parts[1])
        variant = parts[2] if len(parts) == 3 else ""
    if parts[-1] in ("armhf",):
        variant = variant or "v7"
    if arch == "arm64" and variant == "v8":
        variant = ""
    return "/".join(p for p in (os_name, arch, variant) if p)
