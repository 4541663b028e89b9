"""The OCI runtimes a daemon can run containers with, by name: its default
(`--runtime`), `runc` when installed (dockerd always has it), and each
`--add-runtime NAME=PATH`. A container names one in HostConfig.Runtime; every
call on the container (monitor create/start, exec, pause, update, delete) goes to
that runtime, with a state root of its own (`<exec-root>/runtime-<name>`, as
dockerd's `runtime-runc`), so two runtimes never read each other's state.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import Any

from dockyard.api.errors import InvalidParameter


@dataclass(frozen=True)
class Runtime:
    name: str
    path: str  # as /info shows it
    argv: tuple[str, ...]  # the command, then its global flags (--root ...)
    inproc: list[str] | None = field(default=None)  # our runtime, run in the monitor's interpreter


def parse_add_runtime(specs: list[str]) -> dict[str, str]:
    """`--add-runtime NAME=PATH` flags (dockerd's form) as {name: path}."""
    out = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"dockyardd: invalid --add-runtime {spec!r} (want NAME=PATH)")
        out[name] = path
    return out


class Runtimes:
    def __init__(self, default: Runtime, added: dict[str, str], exec_root: str) -> None:
        self.default = default
        self.known: dict[str, Runtime] = {default.name: default}
        wanted = dict(added)
        runc = shutil.which("runc")
        if runc and "runc" not in wanted and default.name != "runc":
            wanted = {"runc": runc, **wanted}
        for name, path in wanted.items():
            if name == default.name:
                raise SystemExit(f"dockyardd: runtime name {name!r} is the default's")
            root = os.path.join(exec_root, f"runtime-{name}")
            self.known[name] = Runtime(name, path, (path, "--root", root))

    def check(self, name: str | None) -> None:
        if name and name not in self.known:
            raise InvalidParameter(f"Unknown runtime specified {name}")

    def of(self, host_config: dict[str, Any]) -> Runtime:
        """The runtime a container runs with (its HostConfig.Runtime)."""
        return self.known.get(host_config.get("Runtime") or "", self.default)

    def info(self) -> dict[str, dict[str, str]]:
        return {name: {"path": rt.path} for name, rt in self.known.items()}


def runtime_for(svc: Any, host_config: dict[str, Any]) -> Runtime:
    """The runtime a container of the container service `svc` runs with: its
    HostConfig.Runtime, else the default (read live: main sets its in-process form)."""
    rt = svc.runtimes.of(host_config) if svc.runtimes is not None else None
    if rt is not None and rt.name != svc.runtime_name:
        return rt
    argv = (svc.runtime, *svc.runtime_args)
    return Runtime(svc.runtime_name, svc.runtime, argv, svc.runtime_inproc)


def check_runtime(svc: Any, name: str | None) -> None:
    if svc.runtimes is not None:
        svc.runtimes.check(name)
    elif name not in (None, "", svc.runtime_name):
        raise InvalidParameter(f"Unknown runtime specified {name}")
