"""Logging drivers' options (`--log-driver`, `--log-opt`), checked as dockerd does.

Names are checked at create ("unknown log opt 'x' for json-file log driver");
values when the container starts, where dockerd initialises its logger
("failed to initialize logging driver: invalid size: 'abc'"). Sizes are
go-units' RAM sizes (1k = 1024 bytes)."""

from __future__ import annotations

import os
from typing import Any

from dockyard.api.errors import InvalidParameter, SystemError_
from dockyard.daemon.services import syslogopts
from dockyard.proto.units import ram_in_bytes

DRIVERS = ("json-file", "local", "none", "syslog", "journald")
# journald's socket (the environment may name another: tests bind one of their own)
JOURNAL_SOCKET = os.environ.get("DOCKYARD_JOURNAL_SOCKET") or "/run/systemd/journal/socket"
_OPTS = {
    "json-file": {"max-size", "max-file", "compress", "labels", "labels-regex", "env",
                  "env-regex", "tag"},
    "local": {"max-size", "max-file", "compress"},
    "none": set(),
    "syslog": syslogopts.OPTS,
    "journald": {"tag", "labels", "labels-regex", "env", "env-regex"},
}  # fmt: skip
_BUILT_IN = ("mode", "max-buffer-size")


def check_names(log_config: dict[str, Any]) -> None:
    """At create: the driver exists and knows every option given."""
    driver = log_config.get("Type") or "json-file"
    if driver not in DRIVERS:
        raise InvalidParameter(f"logger: no log driver named '{driver}' is registered")
    cfg = log_config.get("Config") or {}
    if driver != "none":
        _check_mode(cfg)
    for name in cfg:
        if name in _BUILT_IN and driver != "none":
            continue
        if name not in _OPTS[driver]:
            raise InvalidParameter(f"unknown log opt '{name}' for {driver} log driver")
    if driver == "syslog":
        syslogopts.check(cfg)


def _check_mode(cfg: dict[str, Any]) -> None:
    """`mode` and `max-buffer-size`, which every driver takes (dockerd's built-in
    options). A json-file log is written as the output is read, at disk speed, so
    `non-blocking` changes nothing here: an attached client that stops reading
    blocks the container in either mode, as under dockerd."""
    mode = cfg.get("mode", "")
    if mode not in ("", "blocking", "non-blocking"):
        raise InvalidParameter(f"logger: logging mode not supported: {mode}")
    if "max-buffer-size" in cfg:
        if mode != "non-blocking":
            raise InvalidParameter(
                "logger: max-buffer-size option is only supported with 'mode=non-blocking'"
            )
        try:
            ram_in_bytes(cfg["max-buffer-size"])
        except ValueError as exc:
            raise InvalidParameter(f"error parsing option max-buffer-size: {exc}") from None


def _parse_bool(value: str) -> bool:
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def default_log_config(driver: str, opts: list[str]) -> dict[str, Any]:
    """The daemon's `--log-driver` and `--log-opt KEY=VALUE`, checked at start."""
    config = dict(o.split("=", 1) if "=" in o else (o, "") for o in opts)
    cfg = {"Type": driver, "Config": config}
    try:
        check_names(cfg)
    except InvalidParameter as exc:
        raise SystemExit(f"dockyardd: {exc}") from None
    return cfg


def with_defaults(log_config: dict[str, Any], default: dict[str, Any]) -> dict[str, Any]:
    """A container's LogConfig as dockerd completes it: the daemon's driver when it
    names none, and the daemon's options under its own when the driver is the same."""
    driver = log_config.get("Type") or default["Type"]
    config = dict(log_config.get("Config") or {})
    if driver == default["Type"]:
        config = {**default["Config"], **config}
    return {"Type": driver, "Config": config}


def monitor_log(log_config: dict[str, Any], path: str, c: Any) -> dict[str, Any]:
    """A monitor config's log keys: the local file (its rotation) and a syslog copy."""
    driver = log_config.get("Type") or "json-file"
    if driver == "none":
        return {"log_path": None, "log_opts": None}
    # the local copy `docker logs` reads for syslog and journald (dockerd's
    # dual-logging cache; dockerd reads journald's own journal, we have no reader)
    local = {"max_size": 20 << 20, "max_file": 5, "compress": True}
    if driver == "journald":
        if not os.path.exists(JOURNAL_SOCKET):  # dockerd's check at start
            raise SystemError_(
                "failed to initialize logging driver: journald is not enabled on this host"
            )
        return {"log_path": path, "log_opts": local, "journald": journal_fields(log_config, c)}
    if driver == "syslog":
        return {"log_path": path, "log_opts": local,
                "syslog": syslogopts.monitor_config(log_config, c)}  # fmt: skip
    return {"log_path": path, "log_opts": file_options(log_config)}


def journal_fields(log_config: dict[str, Any], c: Any) -> dict[str, Any]:
    """The journald section of a monitor's config: the socket and the fields dockerd's
    driver gives every entry (the tag: `{{.ID}}` unless `--log-opt tag`)."""
    tag = syslogopts.render_tag((log_config.get("Config") or {}).get("tag", ""), c)
    return {
        "socket": JOURNAL_SOCKET,
        "fields": {
            "CONTAINER_ID": c.id[:12], "CONTAINER_ID_FULL": c.id,
            "CONTAINER_NAME": c.name.lstrip("/"), "CONTAINER_TAG": tag,
            "IMAGE_NAME": str(c.config.get("Image") or ""), "SYSLOG_IDENTIFIER": tag,
        },
    }  # fmt: skip


def file_options(log_config: dict[str, Any]) -> dict[str, Any]:
    """At start: the rotation the monitor applies, {"max_size", "max_file", "compress"}."""
    opts = log_config.get("Config") or {}
    try:
        max_size = 0
        if "max-size" in opts:
            max_size = ram_in_bytes(opts["max-size"])
            if max_size <= 0:
                raise ValueError("max-size must be a positive number")
        max_file = 1
        if "max-file" in opts:
            try:
                max_file = int(opts["max-file"])
            except ValueError:
                raise ValueError(
                    f'strconv.Atoi: parsing "{opts["max-file"]}": invalid syntax'
                ) from None
            if max_file < 1:
                raise ValueError("max-file cannot be less than 1")
        compress = _parse_bool(opts["compress"]) if "compress" in opts else False
        if compress and max_file <= 1:
            raise ValueError("compress cannot be true when max-file is less than 2")
    except ValueError as exc:
        raise SystemError_(f"failed to initialize logging driver: {exc}") from None
    if not max_size:
        max_file = 1  # no rotation without a size (as dockerd: max-file alone is ignored)
    return {"max_size": max_size, "max_file": max_file, "compress": compress}
