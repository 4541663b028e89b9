"""The syslog logging driver's options (`--log-opt syslog-*`, `tag`), checked at
create with dockerd's wording, and the `syslog` section of a monitor's config
(address, facility number, rendered tag, format, the daemon's pid), which
`monitor/logdrivers.py` sends by.
"""

from __future__ import annotations

import os
import re
from typing import Any

from dockyard.api.errors import InvalidParameter

OPTS = {"syslog-address", "syslog-facility", "syslog-tls-ca-cert", "syslog-tls-cert",
        "syslog-tls-key", "syslog-tls-skip-verify", "tag", "syslog-format", "env",
        "env-regex", "labels", "labels-regex"}  # fmt: skip
FACILITIES = {"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
              "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
              **{f"local{i}": 16 + i for i in range(8)}}  # fmt: skip
FORMATS = ("", "rfc3164", "rfc5424", "rfc5424micro")
_SCHEMES = ("unix", "unixgram", "tcp", "udp", "tcp+tls")


def facility(value: str) -> int:
    if value == "":
        return FACILITIES["daemon"]
    if value in FACILITIES:
        return FACILITIES[value]
    if value.isdigit() and 0 <= int(value) <= 23:
        return int(value)
    raise InvalidParameter("invalid syslog facility")


def check(cfg: dict[str, str]) -> None:
    """dockerd's ValidateLogOpt for syslog (names are checked by logopts)."""
    address = cfg.get("syslog-address", "")
    if address:
        scheme, sep, rest = address.partition("://")
        if not sep or scheme not in _SCHEMES:
            raise InvalidParameter(f"unsupported scheme: '{scheme}'" if sep else
                                   f"unsupported scheme: '{address}'")  # fmt: skip
        if scheme in ("unix", "unixgram") and not rest.startswith("/"):
            raise InvalidParameter(f"Unix socket path must be absolute: {rest}")
    facility(cfg.get("syslog-facility", ""))
    if cfg.get("syslog-format", "") not in FORMATS:
        raise InvalidParameter("Invalid syslog format")


def render_tag(template: str, c: Any) -> str:
    """The `tag` log opt's Go template over the container (the fields dockerd's
    logger.Info offers that users write); default `{{.ID}}`."""
    image = str(c.config.get("Image") or "")
    fields = {
        "ID": c.id[:12], "FullID": c.id, "Name": c.name.lstrip("/"),
        "ImageID": c.image_id.removeprefix("sha256:")[:12], "ImageFullID": c.image_id,
        "ImageName": image, "DaemonName": "docker",
    }  # fmt: skip
    return re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: fields.get(m.group(1), ""),
                  template or "{{.ID}}")  # fmt: skip


def monitor_config(log_config: dict[str, Any], c: Any) -> dict[str, Any] | None:
    if (log_config.get("Type") or "") != "syslog":
        return None
    cfg = log_config.get("Config") or {}
    return {
        "address": cfg.get("syslog-address", ""),
        "facility": facility(cfg.get("syslog-facility", "")),
        "tag": render_tag(cfg.get("tag", ""), c),
        "format": cfg.get("syslog-format", ""),
        "pid": os.getpid(),
        "tls": {
            "ca": cfg.get("syslog-tls-ca-cert", ""),
            "cert": cfg.get("syslog-tls-cert", ""),
            "key": cfg.get("syslog-tls-key", ""),
            # dockerd reads the value with strconv.ParseBool's true spellings
            "skip_verify": cfg.get("syslog-tls-skip-verify", "")
            in ("1", "t", "T", "true", "TRUE", "True"),
        },
    }
