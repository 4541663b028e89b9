"""The daemon's configuration file (`--config-file`, default
/etc/dockyard/daemon.json) with dockerd's daemon.json keys for every dockyardd
flag (flags dockerd has not keep their own names), and dockerd's rules: a
directive given both as a flag and in the file is an error, so is an unknown key;
a missing file is fine only at the default path.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

DEFAULT_PATH = "/etc/dockyard/daemon.json"


def _bool_text(v: Any) -> str:
    return "true" if v else "false"


def _ulimits(v: dict[str, Any]) -> list[str]:
    return [f"{name}={u.get('Soft')}:{u.get('Hard')}" for name, u in v.items()]


def _pools(v: list[dict[str, Any]]) -> list[str]:
    return [f"base={p['base']},size={p['size']}" for p in v]


def _pairs(v: dict[str, Any]) -> list[str]:
    return [f"{k}={x}" for k, x in v.items()]


def _runtimes(v: dict[str, Any]) -> list[str]:
    return [f"{name}={rt.get('path', '')}" for name, rt in v.items()]


def _same(v: Any) -> Any:
    return v


# daemon.json key -> (argparse dest, conversion to the flag's value)
KEYS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "data-root": ("data_root", str), "exec-root": ("exec_root", str),
    "hosts": ("host", list), "pidfile": ("pidfile", str), "log-level": ("log_level", str),
    "debug": ("debug", bool), "default-runtime": ("runtime", str),
    "runtimes": ("add_runtime", _runtimes), "seccomp-profile": ("seccomp_profile", str),
    "default-ulimits": ("default_ulimit", _ulimits), "userns-remap": ("userns_remap", str),
    "group": ("group", str), "monitor-zygote": ("monitor_zygote", bool),
    "monitor-group-size": ("monitor_group_size", int), "bridge": ("bridge", str),
    "bip": ("bip", str), "insecure-registries": ("insecure_registry", list),
    "registry-mirrors": ("registry_mirror", list),
    "default-address-pools": ("default_address_pool", _pools),
    "iptables": ("iptables", _bool_text), "ip-forward": ("ip_forward", _bool_text),
    "mtu": ("mtu", int), "dns-forward": ("dns_forward", _bool_text),
    "ipv6": ("ipv6", bool), "fixed-cidr-v6": ("fixed_cidr_v6", str),
    "cluster-store": ("cluster_store", str), "log-driver": ("log_driver", str),
    "log-opts": ("log_opt", _pairs),
}  # fmt: skip


def _given_on_command_line(parser: argparse.ArgumentParser, argv: list[str], dest: str) -> bool:
    flags = [o for a in parser._actions if a.dest == dest for o in a.option_strings]
    return any(tok == f or tok.startswith(f + "=") for tok in argv for f in flags)


def apply(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str]) -> None:
    """Fill `args` from the file where the command line did not set them."""
    path = args.config_file
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        if path == DEFAULT_PATH:
            return
        raise SystemExit(
            f"dockyardd: unable to configure the daemon with file {path}: "
            f"open {path}: no such file or directory"
        ) from None
    except json.JSONDecodeError as exc:
        raise SystemExit(
            f"dockyardd: unable to configure the daemon with file {path}: {exc}"
        ) from None
    if not isinstance(doc, dict):
        raise SystemExit(
            f"dockyardd: unable to configure the daemon with file {path}: not an object"
        )
    unknown = sorted(k for k in doc if k not in KEYS)
    if unknown:
        raise SystemExit(
            "dockyardd: unable to configure the daemon with file "
            f"{path}: the following directives don't match any configuration option: "
            + ", ".join(unknown)
        )
    both = sorted(k for k in doc if _given_on_command_line(parser, argv, KEYS[k][0]))
    if both:
        raise SystemExit(
            "dockyardd: unable to configure the daemon with file "
            f"{path}: the following directives are specified both as a flag and in the "
            "configuration file: " + ", ".join(both)
        )
    for key, value in doc.items():
        dest, convert = KEYS[key]
        setattr(args, dest, convert(value))
