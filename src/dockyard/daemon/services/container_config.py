"""The rules a container's configuration passes at `create` and `update`: the
defaults Docker fills in (Config and HostConfig), the checks of the host config
(restart policy with AutoRemove, runtime, log driver) and what `docker update`
changes. No I/O: the life cycle applies the results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.api.errors import InvalidParameter
from dockyard.daemon.services import hostcheck, hostconfig, logopts
from dockyard.daemon.services.spec_inputs import SecurityDefaults

_CONFIG_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("Domainname", ""),
    ("User", ""),
    ("AttachStdin", False),
    ("AttachStdout", False),
    ("AttachStderr", False),
    ("Tty", False),
    ("OpenStdin", False),
    ("StdinOnce", False),
    ("WorkingDir", ""),
    ("OnBuild", None),
)


def check_auto_remove(host_config: dict[str, Any]) -> None:
    policy = (host_config.get("RestartPolicy") or {}).get("Name")
    if host_config.get("AutoRemove") and policy not in (None, "", "no"):
        raise InvalidParameter("can't create 'AutoRemove' container with restart policy")


def fill_config(cfg: dict[str, Any]) -> None:
    """Config's fields dockerd always shows, at their defaults where not given."""
    for key, default in _CONFIG_DEFAULTS:
        cfg.setdefault(key, default)


def fill_host_config(
    host_config: dict[str, Any],
    *,
    log_default: dict[str, Any],
    security: SecurityDefaults,
    runtime_name: str,
    check_runtime: Callable[[str | None], None],
) -> list[str]:
    """HostConfig checked and completed as dockerd stores it; the warnings of
    settings this host cannot apply (they are dropped)."""
    if not host_config.get("NetworkMode"):
        host_config["NetworkMode"] = "default"
    host_config["LogConfig"] = logopts.with_defaults(
        host_config.get("LogConfig") or {}, log_default
    )
    host_config.setdefault("RestartPolicy", {"Name": "no", "MaximumRetryCount": 0})
    host_config.setdefault("AutoRemove", False)
    hostconfig.validate_host_config(host_config, security)
    warnings = hostcheck.discard_unsupported(host_config)
    check_runtime(host_config.get("Runtime"))
    hostconfig.fill_host_config(host_config, runtime_name)
    logopts.check_names(host_config.get("LogConfig") or {})
    return warnings


def apply_update(
    host_config: dict[str, Any], body: dict[str, Any]
) -> tuple[dict[str, Any] | None, list[str]]:
    """`docker update`'s body on a host config: the restart policy is set in place;
    the merged host config when resources change (else None), and the warnings."""
    if not isinstance(body, dict):
        raise InvalidParameter("invalid update body")
    policy = body.pop("RestartPolicy", None)
    new_policy = None
    # The CLI sends {"Name": ""} when --restart is not given: keep the policy (dockerd)
    if policy:
        hostconfig.check_restart_policy(policy)
    if policy and policy.get("Name"):
        if host_config.get("AutoRemove") and policy.get("Name") not in ("", "no"):
            raise InvalidParameter(
                "Restart policy cannot be updated because AutoRemove is enabled for the container"
            )
        new_policy = {
            "Name": policy.get("Name") or "no",
            "MaximumRetryCount": int(policy.get("MaximumRetryCount") or 0),
        }
    warnings = hostcheck.discard_unsupported(body)
    changed = {k: v for k, v in body.items() if v not in (None, 0, "", [], {})}
    merged = None
    if changed:
        merged = {**host_config, **changed}
        hostconfig.validate_host_config(merged)
    # only now, when nothing was refused: a refused update changes nothing
    if new_policy is not None:
        host_config["RestartPolicy"] = new_policy
        if merged is not None:
            merged["RestartPolicy"] = new_policy
    return merged, warnings
