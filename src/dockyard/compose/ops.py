"""The commands that act on a project's existing containers: down, stop, start,
restart, kill, rm, pause, unpause; and what ps, ls, images, top and port read.

Stopping goes in reverse dependency order (dependents first), starting in
dependency order; services at the same depth proceed in parallel.
"""

from __future__ import annotations

from dockyard.compose import labels
from dockyard.compose.errors import ComposeError
from dockyard.compose.parallel import each
from dockyard.compose.plan import is_running, number_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.compose.engineapi import EngineAPI
    from dockyard.compose.model import Project
    from dockyard.compose.progress import Progress


def cname(c: dict[str, Any]) -> str:
    return c["Names"][0].lstrip("/")


def service_of(c: dict[str, Any]) -> str:
    return (c.get("Labels") or {}).get(labels.SERVICE, "")


def levels(project: Project, names: list[str]) -> list[list[str]]:
    """Services grouped by dependency depth: each group depends only on earlier ones."""
    depth: dict[str, int] = {}

    def d(n: str) -> int:
        if n not in depth:
            deps = [x for x in project.services[n].depends_on if x in project.services]
            depth[n] = 1 + max((d(x) for x in deps), default=-1)
        return depth[n]

    for n in names:
        d(n)
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for n in names:
        out[depth[n]].append(n)
    return out


class Ops:
    def __init__(self, api: EngineAPI, project: Project, progress: Progress) -> None:
        self.api = api
        self.project = project
        self.progress = progress

    def containers(
        self, services: list[str] | None = None, all: bool = True, oneoff: bool | None = False
    ) -> list[dict[str, Any]]:
        found = self.api.containers(self.project.name, all, oneoff)
        if services:
            for s in services:
                if s not in self.project.services and s not in self.project.disabled:
                    raise ComposeError(f"no such service: {s}")
            found = [c for c in found if service_of(c) in services]
        return sorted(found, key=lambda c: (service_of(c), number_of(c)))

    def _each_level(self, services: list[str] | None, reverse: bool, action: Any) -> None:
        known = [s for s in (services or list(self.project.services)) if s in self.project.services]
        containers = self.containers(services, all=True, oneoff=False)
        groups = levels(self.project, known)
        if reverse:
            groups.reverse()
        by_service: dict[str, list[dict[str, Any]]] = {}
        for c in containers:
            by_service.setdefault(service_of(c), []).append(c)
        unknown = [c for s, cs in by_service.items() if s not in known for c in cs]
        if reverse and unknown:  # orphans (with --remove-orphans) go first
            each(action, unknown)
        for group in groups:
            each(action, [c for s in group for c in by_service.get(s, [])])

    def stop(self, services: list[str] | None, timeout: int | None) -> None:
        def one(c: dict[str, Any]) -> None:
            if is_running(c):
                self.progress.event("Container", cname(c), "Stopping")
                self.api.stop(c["Id"], timeout)
                self.progress.event("Container", cname(c), "Stopped")

        self._each_level(services, True, one)

    def start(self, services: list[str] | None) -> None:
        def one(c: dict[str, Any]) -> None:
            if not is_running(c):
                self.progress.event("Container", cname(c), "Starting")
                self.api.start(c["Id"])
                self.progress.event("Container", cname(c), "Started")

        self._each_level(services, False, one)

    def restart(self, services: list[str] | None, timeout: int | None) -> None:
        def one(c: dict[str, Any]) -> None:
            self.progress.event("Container", cname(c), "Restarting")
            self.api.restart(c["Id"], timeout)
            self.progress.event("Container", cname(c), "Started")

        self._each_level(services, False, one)

    def simple(self, services: list[str] | None, verb: str, done: str, fn: Any,
                     want: Any = None) -> None:  # fmt: skip
        targets = [c for c in self.containers(services) if want is None or want(c)]

        def one(c: dict[str, Any]) -> None:
            self.progress.event("Container", cname(c), verb)
            fn(c["Id"])
            self.progress.event("Container", cname(c), done)

        each(one, targets)

    def remove(self, services: list[str] | None, stopped_only: bool, volumes: bool) -> None:
        targets = [c for c in self.containers(services, oneoff=None)
                   if not (stopped_only and is_running(c))]  # fmt: skip

        def one(c: dict[str, Any]) -> None:
            self.progress.event("Container", cname(c), "Removing")
            self.api.remove(c["Id"], volumes, True)
            self.progress.event("Container", cname(c), "Removed")

        each(one, targets)

    def down(self, remove_orphans: bool, volumes: bool, rmi: str | None,
                   timeout: int | None) -> None:  # fmt: skip
        every = set(self.project.services) | set(self.project.disabled)
        found = self.api.containers(self.project.name, True, None)
        orphans = [c for c in found if service_of(c) not in every]
        if orphans and not remove_orphans:
            self.progress.warn(
                f"Found orphan containers ({', '.join(cname(c) for c in orphans)}) for this "
                "project. If you removed or renamed this service in your compose file, you can "
                "run this command with the --remove-orphans flag to clean it up."
            )

        def one(c: dict[str, Any]) -> None:
            if is_running(c):
                self.progress.event("Container", cname(c), "Stopping")
                self.api.stop(c["Id"], timeout)
                self.progress.event("Container", cname(c), "Stopped")
            self.progress.event("Container", cname(c), "Removing")
            self.api.remove(c["Id"], volumes, True)
            self.progress.event("Container", cname(c), "Removed")

        keep_orphans = {c["Id"] for c in orphans} if not remove_orphans else set()
        by_service: dict[str, list[dict[str, Any]]] = {}
        for c in found:
            if c["Id"] not in keep_orphans:
                by_service.setdefault(service_of(c), []).append(c)
        known = [s for s in self.project.services]
        others = [c for s, cs in by_service.items() if s not in known for c in cs]
        each(one, others)
        for group in reversed(levels(self.project, known)):
            each(one, [c for s in group for c in by_service.get(s, [])])
        each(
            self._remove_network,
            [n for n in self.project.networks.values() if not n.get("external")],
        )
        if volumes:
            each(
                self._remove_volume,
                [v for v in self.project.volumes.values() if not v.get("external")],
            )
        if rmi:
            self._remove_images(rmi)

    def _remove_network(self, spec: dict[str, Any]) -> None:
        self._remove_owned("Network", spec["name"], self.api.network, self.api.remove_network)

    def _remove_volume(self, spec: dict[str, Any]) -> None:
        self._remove_owned("Volume", spec["name"], self.api.volume, self.api.remove_volume)

    def _remove_owned(
        self,
        kind: str,
        name: str,
        find: Callable[[str], dict[str, Any] | None],
        remove: Callable[[str], None],
    ) -> None:
        """Remove a network or volume only if this project made it (its label says so)."""
        info = find(name)
        if info is None or (info.get("Labels") or {}).get(labels.PROJECT) != self.project.name:
            return
        self.progress.event(kind, name, "Removing")
        remove(name)
        self.progress.event(kind, name, "Removed")

    def _remove_images(self, mode: str) -> None:
        from dockyard.compose.convert import image_name

        refs = set()
        for s in self.project.services.values():
            if mode == "all" or (mode == "local" and not s.image):
                refs.add(image_name(self.project, s))
        for ref in sorted(refs):
            if self.api.image(ref) is not None:
                self.progress.event("Image", ref, "Removing")
                self.api.remove_image(ref)
                self.progress.event("Image", ref, "Removed")


def project_status(containers: list[dict[str, Any]]) -> str:
    """`ls`'s STATUS: "running(2)", or "exited(1), running(1)", as v2 prints it."""
    counts: dict[str, int] = {}
    for c in containers:
        counts[c.get("State", "")] = counts.get(c.get("State", ""), 0) + 1
    return ", ".join(f"{s}({n})" for s, n in sorted(counts.items()))


def list_projects(api: EngineAPI, all: bool) -> list[dict[str, str]]:
    rows: dict[str, dict[str, Any]] = {}
    for c in api.containers(None, True, None):
        lbl = c.get("Labels") or {}
        name = lbl.get(labels.PROJECT, "")
        row = rows.setdefault(name, {"Name": name, "containers": [],
                                     "ConfigFiles": lbl.get(labels.CONFIG_FILES, "")})  # fmt: skip
        row["containers"].append(c)
    out = []
    for name in sorted(rows):
        cs = rows[name]["containers"]
        if not all and not any(is_running(c) for c in cs):
            continue
        out.append({"Name": name, "Status": project_status(cs),
                    "ConfigFiles": rows[name]["ConfigFiles"]})  # fmt: skip
    return out
