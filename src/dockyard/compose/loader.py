"""Loading a project: files → interpolate → include → extends → merge → profiles → model.

The order follows the specification: each file is read, interpolated with the
project's environment (OS environment over the `.env` of the project directory,
or `--env-file`s), checked against the schema (errors name that file), has its
`include`s and `extends` resolved, and is normalised with relative paths against
the project directory; files then merge in order. Profiles pick the enabled
services last; names of networks and volumes default to `<project>_<key>`.
"""

from __future__ import annotations

import os
import re
import sys

from dockyard.compose import dotenv, normalize, schema, validate, yamlfile
from dockyard.compose.errors import ComposeError
from dockyard.compose.interpolate import interpolate
from dockyard.compose.merge import Override, Reset, merge_mappings, strip_tags
from dockyard.compose.model import Project, Record, Service

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILES = {
    "compose.yaml": ("compose.override.yaml", "compose.override.yml"),
    "compose.yml": ("compose.override.yaml", "compose.override.yml"),
    "docker-compose.yaml": ("docker-compose.override.yaml", "docker-compose.override.yml"),
    "docker-compose.yml": ("docker-compose.override.yaml", "docker-compose.override.yml"),
}
SECTIONS = ("services", "networks", "volumes", "secrets", "configs")
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class Options(Record):
    """What the command line (and COMPOSE_* variables) say about the project."""

    __slots__ = ("files", "project_name", "project_dir", "env_files", "profiles", "environ",
                 "cwd", "selected")  # fmt: skip
    _fields = __slots__
    files: tuple[str, ...]
    project_name: str | None
    project_dir: str | None
    env_files: tuple[str, ...]
    profiles: tuple[str, ...]
    environ: Mapping[str, str]
    cwd: str
    # services named on the command line are enabled whatever their profiles
    selected: tuple[str, ...]

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        empty = tuple
        return {"files": empty, "project_name": lambda: None, "project_dir": lambda: None,
                "env_files": empty, "profiles": empty, "environ": lambda: dict(os.environ),
                "cwd": os.getcwd, "selected": empty}  # fmt: skip


def normalize_project_name(name: str) -> str:
    """A directory's name as a project name: lower case, only [a-z0-9_-], as v2 does."""
    name = re.sub(r"[^a-z0-9_-]", "", name.lower())
    return name.lstrip("_-")


def check_project_name(name: str) -> str:
    if not _PROJECT_NAME.match(name):
        raise ComposeError(
            f'invalid project name "{name}": must consist only of lowercase alphanumeric '
            "characters, hyphens, and underscores as well as start with a letter or number"
        )
    return name


def find_files(opts: Options) -> list[str]:
    if opts.files:
        return [f if f == "-" else os.path.abspath(os.path.join(opts.cwd, f)) for f in opts.files]
    env_files = opts.environ.get("COMPOSE_FILE")
    if env_files:
        sep = opts.environ.get("COMPOSE_PATH_SEPARATOR", os.pathsep)
        return [os.path.abspath(os.path.join(opts.cwd, f)) for f in env_files.split(sep) if f]
    directory = opts.project_dir and os.path.abspath(opts.project_dir) or opts.cwd
    while True:
        for name in DEFAULT_FILES:
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                found = [path]
                for o in OVERRIDE_FILES[name]:
                    if os.path.isfile(os.path.join(directory, o)):
                        found.append(os.path.join(directory, o))
                        break
                return found
        parent = os.path.dirname(directory)
        if parent == directory:
            raise ComposeError("no configuration file provided: not found")
        directory = parent


def project_environment(opts: Options, project_dir: str) -> dict[str, str]:
    """The interpolation environment: `.env` (or `--env-file`s), overridden by the OS's."""
    env: dict[str, str] = {}
    files = list(opts.env_files)
    if not files and opts.environ.get("COMPOSE_ENV_FILES"):
        files = opts.environ["COMPOSE_ENV_FILES"].split(",")
    if files:
        for f in files:
            env.update(dotenv.read(os.path.join(opts.cwd, f), {**env, **opts.environ}))
    elif os.path.isfile(os.path.join(project_dir, ".env")):
        env.update(dotenv.read(os.path.join(project_dir, ".env"), dict(opts.environ)))
    env.update(opts.environ)
    return env


class _Loader:
    def __init__(self, env: Mapping[str, str], warn: Callable[[str], None]) -> None:
        self.env = env
        self.warn = warn
        self._warned: set[str] = set()
        self.sources: dict[str, str] = {}  # service -> the file that first defined it

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.warn(message)

    def read(self, path: str) -> dict[str, Any]:
        """One file, interpolated and schema-checked (`-` reads stdin)."""
        if path == "-":
            raw = yamlfile.parse(sys.stdin.read(), "-")
        else:
            raw = yamlfile.read(path)
        if raw is None:
            return {}
        doc = _with_overrides(raw, lambda v, path: interpolate(v, self.env, self._warn_once, path))
        schema.check(strip_tags(doc), path)
        return doc

    def load_file(self, path: str, base_dir: str, chain: tuple[str, ...] = ()) -> dict[str, Any]:
        """One file as a long-form document, with its includes and extends resolved."""
        doc = self.read(path)
        file_dir = os.path.dirname(path) if path != "-" else base_dir
        out: dict[str, Any] = {k: v for k, v in doc.items() if k not in ("include", *SECTIONS)}
        for section in SECTIONS:
            out[section] = {}
        services = doc.get("services") or {}
        for name in services:
            out["services"][name] = self.resolve_service(path, services, name, base_dir, (path,))
            self.sources.setdefault(name, path)
        for section in SECTIONS[1:]:
            for name, spec in (doc.get(section) or {}).items():
                out[section][name] = _keep_override(
                    spec, lambda s, sec=section, n=name: normalize.resource(sec, n, s, base_dir)
                )
        for entry in doc.get("include") or []:
            self.include(out, entry, file_dir, chain + (path,))
        return out

    def resolve_service(
        self, path: str, services: dict[str, Any], name: str, base_dir: str, seen: tuple[str, ...]
    ) -> dict[str, Any]:
        svc = services[name] or {}
        local = _keep_override(svc, lambda s: normalize.service(s, base_dir, self.env))
        ext = local.pop("extends", None)
        if ext is None:
            return local
        ext = {"service": ext} if isinstance(ext, str) else ext
        base_name = ext["service"]
        key = f"{ext.get('file', path)}#{base_name}"
        if key in seen:
            raise ComposeError(f"circular reference with extends in service {name}: {key}")
        if "file" in ext:
            file_dir = os.path.dirname(path) if path != "-" else base_dir
            other = os.path.normpath(os.path.join(file_dir, ext["file"]))
            other_services = self.read(other).get("services") or {}
            if base_name not in other_services:
                raise ComposeError(
                    f"cannot extend service {name!r} in {path}: service {base_name!r} not found in {other}"
                )
            base = self.resolve_service(
                other, other_services, base_name, os.path.dirname(other), seen + (key,)
            )
        else:
            if base_name not in services:
                raise ComposeError(
                    f"cannot extend service {name!r} in {path}: service {base_name!r} not found"
                )
            base = self.resolve_service(path, services, base_name, base_dir, seen + (key,))
        return merge_mappings(base, local)

    def include(
        self, out: dict[str, Any], entry: Any, file_dir: str, chain: tuple[str, ...]
    ) -> None:
        entry = {"path": entry} if isinstance(entry, str) else entry
        paths = [entry["path"]] if isinstance(entry["path"], str) else entry["path"]
        paths = [os.path.normpath(os.path.join(file_dir, p)) for p in paths]
        if any(p in chain for p in paths):
            raise ComposeError(f"include cycle detected: {' -> '.join([*chain, paths[0]])}")
        sub_dir = os.path.normpath(os.path.join(file_dir, entry.get("project_directory") or
                                                os.path.dirname(paths[0])))  # fmt: skip
        env = dict(self.env)
        env_files = entry.get("env_file")
        if env_files:
            for f in [env_files] if isinstance(env_files, str) else env_files:
                env.update(dotenv.read(os.path.join(file_dir, f), env))
        elif os.path.isfile(os.path.join(sub_dir, ".env")):
            env = {**dotenv.read(os.path.join(sub_dir, ".env"), env), **self.env}
        sub = _Loader(env, self.warn)
        included: dict[str, Any] = {}
        for p in paths:
            doc = sub.load_file(p, sub_dir, chain)
            included = merge_mappings(included, doc) if included else doc
        for section in SECTIONS:
            for name, spec in included.get(section, {}).items():
                if name in out[section] and out[section][name] != spec:
                    raise ComposeError(
                        f"imported compose file {paths[0]} defines conflicting {section[:-1]} {name}"
                    )
                out[section][name] = spec
        for name, src in sub.sources.items():
            self.sources.setdefault(name, src)


def _with_overrides(value: Any, fn: Callable[[Any, str], Any], path: str = "") -> Any:
    """`fn(leaf, dotted path)` applied to a tree, through `!override` wrappers (kept)."""
    if isinstance(value, Override):
        return Override(_with_overrides(value.value, fn, path))
    if isinstance(value, dict):
        return {k: _with_overrides(v, fn, f"{path}.{k}" if path else str(k))
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, list):
        return [_with_overrides(v, fn, f"{path}.[{i}]") for i, v in enumerate(value)]
    return fn(value, path)


def _keep_override(spec: Any, fn: Callable[[Any], dict[str, Any]]) -> Any:
    """Normalise a service or resource whose attributes may be wrapped in `!override`."""
    if isinstance(spec, Override):
        return Override(_keep_override(spec.value, fn))
    if not isinstance(spec, dict):
        return fn(spec)
    wrapped = {k for k, v in spec.items() if isinstance(v, Override)}
    resets = {k: v for k, v in spec.items() if isinstance(v, Reset)}
    plain = {k: (v.value if k in wrapped else v) for k, v in spec.items() if k not in resets}
    out = fn(plain)
    return {**{k: Override(v) if k in wrapped else v for k, v in out.items()}, **resets}


def _active(svc: dict[str, Any], profiles: set[str]) -> bool:
    wanted = svc.get("profiles") or []
    return not wanted or "*" in profiles or bool(profiles & set(wanted))


def load(opts: Options, warn: Callable[[str], None] | None = None) -> Project:
    warn = warn or (lambda m: None)
    files = find_files(opts)
    first = files[0]
    project_dir = os.path.abspath(
        opts.project_dir or (os.path.dirname(first) if first != "-" else opts.cwd)
    )
    env = project_environment(opts, project_dir)
    loader = _Loader(env, warn)
    merged: dict[str, Any] = {}
    for path in files:
        doc = loader.load_file(path, project_dir)
        merged = merge_mappings(merged, doc) if merged else doc
    merged = strip_tags(merged)
    name = (
        opts.project_name
        or env.get("COMPOSE_PROJECT_NAME")
        or merged.get("name")
        or normalize_project_name(os.path.basename(project_dir))
    )
    name = check_project_name(str(name))

    profiles = set(opts.profiles)
    if not profiles and env.get("COMPOSE_PROFILES"):
        profiles = {p for p in env["COMPOSE_PROFILES"].split(",") if p}
    services_doc = merged.get("services") or {}
    enabled = {n: s for n, s in services_doc.items() if _active(s, profiles) or n in opts.selected}
    # a disabled service that an enabled one (or a selected one) depends on comes along
    changed = True
    while changed:
        changed = False
        for svc in list(enabled.values()):
            for dep in svc.get("depends_on") or {}:
                if dep in services_doc and dep not in enabled and opts.selected:
                    enabled[dep] = services_doc[dep]
                    changed = True
    for n, svc in enabled.items():
        implied = implicit_dependencies(svc)
        if implied:
            deps = dict(svc.get("depends_on") or {})
            for dep in implied:
                deps.setdefault(dep, {"condition": "service_started", "required": True})
            enabled[n] = svc = {**svc, "depends_on": deps}
        if not svc.get("network_mode") and "networks" not in svc:
            enabled[n] = svc = {**svc, "networks": {"default": None}}
    validate.check({**merged, "services": enabled}, loader.sources)
    for svc_name, svc in enabled.items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            if dep not in enabled and spec.get("required", True):
                if dep in services_doc:
                    raise ComposeError(
                        f'service "{svc_name}" depends on "{dep}", which is disabled by the active profiles'
                    )
                raise ComposeError(
                    f'service "{svc_name}" depends on undefined service "{dep}": invalid compose project'
                )

    used_networks = {n for s in enabled.values() for n in (s.get("networks") or {})}
    networks = dict(merged.get("networks") or {})
    if "default" in used_networks and "default" not in networks:
        networks["default"] = {}
    return Project(
        name=name,
        working_dir=project_dir,
        config_files=tuple(files),
        services={n: Service(n, s) for n, s in enabled.items()},
        networks={k: _named(name, k, v) for k, v in networks.items()},
        volumes={k: _named(name, k, v) for k, v in (merged.get("volumes") or {}).items()},
        secrets={k: _named(name, k, v) for k, v in (merged.get("secrets") or {}).items()},
        configs={k: _named(name, k, v) for k, v in (merged.get("configs") or {}).items()},
        environment=env,
        disabled={n: Service(n, s) for n, s in services_doc.items() if n not in enabled},
        extensions={k: v for k, v in merged.items() if k.startswith("x-")},
    )


def implicit_dependencies(svc: dict[str, Any]) -> list[str]:
    """Services a service needs started without saying so in `depends_on`, as
    compose-go adds them: `network_mode: service:X`, `volumes_from: [X]`, `links: [X]`."""
    out = []
    mode = svc.get("network_mode") or ""
    if mode.startswith("service:"):
        out.append(mode[len("service:") :])
    for entry in svc.get("volumes_from") or []:
        if not entry.startswith("container:"):
            out.append(entry.removeprefix("service:").split(":")[0])
    for link in svc.get("links") or []:
        out.append(link.split(":")[0])
    return out


def _named(project: str, key: str, spec: dict[str, Any]) -> dict[str, Any]:
    spec = dict(spec or {})
    if "name" not in spec:
        spec["name"] = key if spec.get("external") else f"{project}_{key}"
    return spec
