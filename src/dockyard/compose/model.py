"""The frozen project model that loading produces and every command consumes.

`Project` holds the normalised services, networks, volumes, secrets and configs as
the specification's long form (plain dicts, so `config` prints them as they are),
plus what converging needs: the project name, working directory, the files it came
from and the interpolation environment. Frozen: a command never edits the model, it
derives a new one (`with_services`) when `--scale` or a service selection asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from dockyard.compose.errors import ComposeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


@dataclass(frozen=True)
class Service:
    name: str
    config: dict[str, Any]

    @property
    def image(self) -> str | None:
        return self.config.get("image")

    @property
    def build(self) -> dict[str, Any] | None:
        return self.config.get("build")

    @property
    def depends_on(self) -> dict[str, dict[str, Any]]:
        return self.config.get("depends_on") or {}

    @property
    def networks(self) -> dict[str, dict[str, Any] | None]:
        return self.config.get("networks") or {}

    @property
    def scale(self) -> int:
        deploy = self.config.get("deploy") or {}
        if deploy.get("replicas") is not None:
            return int(deploy["replicas"])
        return int(self.config.get("scale", 1))

    @property
    def profiles(self) -> list[str]:
        return self.config.get("profiles") or []


@dataclass(frozen=True)
class Project:
    name: str
    working_dir: str
    config_files: tuple[str, ...]
    services: dict[str, Service]
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    disabled: dict[str, Service] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)

    def service(self, name: str) -> Service:
        if name in self.services:
            return self.services[name]
        if name in self.disabled:
            raise ComposeError(f"service {name} is not enabled by the active profiles")
        raise ComposeError(f"no such service: {name}")

    def dependency_order(self, names: Iterable[str] | None = None) -> list[str]:
        """Services (and, transitively, what they depend on) ordered dependencies first."""
        wanted = list(self.services) if names is None else list(names)
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(n: str, chain: list[str]) -> None:
            if state.get(n) == 2:
                return
            if state.get(n) == 1:
                raise ComposeError(
                    "dependency cycle detected: " + " -> ".join([*chain[chain.index(n) :], n])
                )
            state[n] = 1
            for dep, spec in self.services[n].depends_on.items():
                if dep in self.services:
                    visit(dep, [*chain, n])
                elif spec.get("required", True):
                    raise ComposeError(f'service "{n}" depends on undefined service "{dep}"')
            state[n] = 2
            order.append(n)

        for n in wanted:
            self.service(n)
            visit(n, [])
        return order

    def dependents(self, names: Iterable[str]) -> list[str]:
        """`names` and every service that depends on them, transitively."""
        out = list(dict.fromkeys(names))
        for n in out:  # grows while iterating: a breadth-first walk
            out += [s for s, svc in self.services.items() if n in svc.depends_on and s not in out]
        return out

    def with_services(self, names: Iterable[str], deps: bool = True) -> Project:
        """The project restricted to `names` (with what they depend on unless `deps` is off)."""
        names = list(names)
        keep = self.dependency_order(names) if deps else names
        for n in keep:
            self.service(n)
        return replace(self, services={n: self.services[n] for n in self.services if n in keep})

    def with_scale(self, scales: dict[str, int]) -> Project:
        services = dict(self.services)
        for name, n in scales.items():
            svc = self.service(name)
            cfg = dict(svc.config)
            cfg["scale"] = n
            if isinstance(cfg.get("deploy"), dict) and "replicas" in cfg["deploy"]:
                cfg["deploy"] = {**cfg["deploy"], "replicas": n}
            services[name] = Service(name, cfg)
        return replace(self, services=services)
