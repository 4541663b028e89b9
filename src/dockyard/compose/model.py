"""The frozen project model that loading produces and every command consumes.

`Project` holds the normalised services, networks, volumes, secrets and configs as
the specification's long form (plain dicts, so `config` prints them as they are),
plus what converging needs: the project name, working directory, the files it came
from and the interpolation environment. Frozen: a command never edits the model, it
derives a new one (`with_services`) when `--scale` or a service selection asks.
"""

from __future__ import annotations

from dockyard.compose.errors import ComposeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, Self


class Record:
    """A frozen record: the fields `_fields` names, given as arguments (`_defaults`
    makes the rest for those left out), compared and printed by value.

    Written out rather than a dataclass: `dataclasses` imports `inspect` (ast, dis,
    tokenize), a sixth of the CPU of a no-op `up`, for four small classes."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        values = dict(zip(self._fields, args, strict=False))
        for key, value in kwargs.items():
            if key not in self._fields or key in values:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated {key!r}")
            values[key] = value
        defaults = self._defaults()
        for key in self._fields:
            if key not in values:
                if key not in defaults:
                    raise TypeError(f"{type(self).__name__}: missing {key!r}")
                values[key] = defaults[key]()
            object.__setattr__(self, key, values[key])

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        """Field -> a function making its default (a fresh one for each record)."""
        return {}

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, k) for k in self._fields)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._values() == other._values()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment] - holds dicts, as the dataclasses did

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._fields)
        return f"{type(self).__name__}({inner})"

    def replace(self, **changes: Any) -> Self:
        return type(self)(**{**{k: getattr(self, k) for k in self._fields}, **changes})


class Service(Record):
    __slots__ = ("name", "config")
    _fields = __slots__
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


class Project(Record):
    __slots__ = ("name", "working_dir", "config_files", "services", "networks", "volumes",
                 "secrets", "configs", "environment", "disabled", "extensions")  # fmt: skip
    _fields = __slots__
    name: str
    working_dir: str
    config_files: tuple[str, ...]
    services: dict[str, Service]
    networks: dict[str, dict[str, Any]]
    volumes: dict[str, dict[str, Any]]
    secrets: dict[str, dict[str, Any]]
    configs: dict[str, dict[str, Any]]
    environment: dict[str, str]
    disabled: dict[str, Service]
    extensions: dict[str, Any]

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return dict.fromkeys(cls._fields[4:], dict)

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
        return self.replace(services={n: self.services[n] for n in self.services if n in keep})

    def with_scale(self, scales: dict[str, int]) -> Project:
        services = dict(self.services)
        for name, n in scales.items():
            svc = self.service(name)
            cfg = dict(svc.config)
            cfg["scale"] = n
            if isinstance(cfg.get("deploy"), dict) and "replicas" in cfg["deploy"]:
                cfg["deploy"] = {**cfg["deploy"], "replicas": n}
            services[name] = Service(name, cfg)
        return self.replace(services=services)
