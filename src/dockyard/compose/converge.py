"""`up` and `create`: make the daemon's objects match the project, in dependency order.

Networks and volumes first (created when missing, external ones checked), then
images (pulled or built), then each service as soon as the services it depends on
are ready under their `depends_on` condition: started, healthy, or completed
successfully. Services whose dependencies are ready proceed in parallel (a thread
each, `parallel`). Within a service,
`plan.plan_service` says which containers to create, recreate, start or remove.
"""

from __future__ import annotations

import threading
import time

from dockyard.client.errors import APIError
from dockyard.compose import convert, images, labels, plan
from dockyard.compose.errors import ComposeError
from dockyard.compose.injectfiles import inject
from dockyard.compose.model import Record
from dockyard.compose.parallel import Outcome, each, gather, sleep

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.compose.engineapi import EngineAPI
    from dockyard.compose.model import Project, Service
    from dockyard.compose.progress import Progress

POLL = 0.2


_UP_DEFAULTS = {"build": "auto", "recreate": "diverged", "start": True, "remove_orphans": False,
                "ignore_orphans": False, "renew_anon_volumes": False, "timeout": None,
                "pull": None}  # fmt: skip


class UpOptions(Record):
    """What `up` (and `create`, `run`, `watch`) asks of the convergence, by keyword;
    a frozen record as the model's classes are. Which services: the project's."""

    __slots__ = tuple(_UP_DEFAULTS)
    _fields = __slots__
    build: str  # "auto" (missing images), "always" (--build), "never" (--no-build)
    recreate: str  # "diverged" | "force" | "never"
    start: bool
    remove_orphans: bool
    ignore_orphans: bool  # COMPOSE_IGNORE_ORPHANS: no warning
    renew_anon_volumes: bool
    timeout: int | None
    pull: str | None  # --pull always|missing|never

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {key: (lambda v=value: v) for key, value in _UP_DEFAULTS.items()}


class Converger:
    def __init__(self, api: EngineAPI, project: Project, progress: Progress) -> None:
        self.api = api
        self.project = project
        self.progress = progress
        self.image_ids: dict[str, str] = {}
        self.ready: dict[str, Outcome] = {}
        self.created: dict[str, list[str]] = {}  # service -> container ids (in number order)
        self.made: dict[str, Outcome] = {}  # settles when a service's are created
        self.to_start: dict[str, list[tuple[str, str]]] = {}  # service -> (id, name) to start
        # the project's containers, listed once per `up` (one call, not one per service)
        self._existing: list[dict[str, Any]] | None = None
        self._image_info: dict[str, Any] = {}
        self._image_lock = threading.Lock()
        self._firsts: dict[str, str] = {}  # service -> its first container's id

    # -- networks and volumes --------------------------------------------------
    def ensure_networks(self) -> None:
        used = {n for s in self.project.services.values() for n in s.networks}
        each(self._network, [k for k in self.project.networks if k in used])

    def _network(self, key: str) -> None:
        spec = self.project.networks[key]
        name = spec["name"]
        missing = f"network {name} declared as external, but could not be found"
        if not _to_create(spec, self.api.network(name), missing):
            return
        body: dict[str, Any] = {
            "Name": name,
            "Driver": spec.get("driver") or "bridge",
            "Internal": bool(spec.get("internal")),
            "Attachable": bool(spec.get("attachable")),
            "EnableIPv6": bool(spec.get("enable_ipv6")),
            "Options": spec.get("driver_opts") or {},
            "Labels": {
                **(spec.get("labels") or {}),
                **labels.project_labels(self.project),
                labels.NETWORK: key,
            },  # fmt: skip
            "CheckDuplicate": True,
        }
        ipam = spec.get("ipam")
        if ipam:
            body["IPAM"] = {
                "Driver": ipam.get("driver") or "default",
                "Config": [{"Subnet": c.get("subnet"), "Gateway": c.get("gateway"),
                            "IPRange": c.get("ip_range")} for c in ipam.get("config") or []],
                "Options": ipam.get("options") or {},
            }  # fmt: skip
        self.progress.event("Network", name, "Creating")
        try:
            self.api.create_network(body)
        except APIError as e:
            if e.status != 409:  # created meanwhile by a parallel compose
                raise
        self.progress.event("Network", name, "Created")

    def ensure_volumes(self) -> None:
        used = {
            m.get("source")
            for s in self.project.services.values()
            for m in s.config.get("volumes") or []
            if m.get("type") == "volume"
        }
        each(self._volume, [k for k in self.project.volumes if k in used])

    def _volume(self, key: str) -> None:
        spec = self.project.volumes[key]
        name = spec["name"]
        if not _to_create(spec, self.api.volume(name), f'external volume "{name}" not found'):
            return
        self.progress.event("Volume", f'"{name}"', "Creating")
        self.api.create_volume({
            "Name": name,
            "Driver": spec.get("driver") or "local",
            "DriverOpts": spec.get("driver_opts") or {},
            "Labels": {**(spec.get("labels") or {}), **labels.project_labels(self.project),
                       labels.VOLUME: key},
        })  # fmt: skip
        self.progress.event("Volume", f'"{name}"', "Created")

    # -- images -----------------------------------------------------------------
    def ensure_images(self, opts: UpOptions) -> None:
        each(lambda s: self._image(s, opts), self.project.services.values())

    def _image(self, service: Service, opts: UpOptions) -> None:
        ref = convert.image_name(self.project, service)
        policy = opts.pull or service.config.get("pull_policy") or "missing"
        if service.build and (opts.build == "always" or policy == "build"):
            self.image_ids[service.name] = self._build(service, ref)
            return
        info = None if policy == "always" else self._inspect_image(ref)
        if (
            info is None
            and service.image
            and policy != "never"
            and (not service.build or policy == "always")
        ):
            self.progress.event("Image", ref, "Pulling")
            try:
                images.pull(self.api, ref)
            except ComposeError:
                if not service.build:
                    raise
            else:
                self.progress.event("Image", ref, "Pulled")
            info = self.api.image(ref)
        if info is None and service.build and opts.build != "never":
            self.image_ids[service.name] = self._build(service, ref)
            return
        if info is None:
            raise ComposeError(f"No such image: {ref}")
        self.image_ids[service.name] = info["Id"]

    def _inspect_image(self, ref: str) -> Any:
        """One inspect per distinct image, however many services run it."""
        with self._image_lock:
            once = self._image_info.get(ref)
            first = once is None
            if first:
                once = self._image_info[ref] = [Outcome(), None]
        if first:
            try:
                once[1] = self.api.image(ref)
            except BaseException as e:
                once[0].set(e)
                raise
            once[0].set()
        once[0].wait()
        return once[1]

    def _build(self, service: Service, ref: str) -> str:
        self.progress.event("Service", service.name, "Building")
        image_id = images.build(self.api, self.project, service, ref)
        self.progress.event("Service", service.name, "Built")
        return image_id

    # -- containers --------------------------------------------------------------
    def up(self, opts: UpOptions) -> None:
        # independent look-ups go out together: a no-op `up` is a few round trips deep
        existing, *_ = gather(
            lambda: self.api.containers(self.project.name, True, None),
            self.ensure_networks, self.ensure_volumes, lambda: self.ensure_images(opts),
        )  # fmt: skip
        self._existing = existing
        if opts.remove_orphans:
            self.remove_orphans()
        elif not opts.ignore_orphans:
            self.warn_orphans()
        # Every service at once: its containers are created (or recreated) as soon as
        # those it needs to exist are (network_mode service:, volumes_from, links), then
        # started once each `depends_on` condition holds.
        self.made = {n: Outcome() for n in self.project.services}
        self.ready = {n: Outcome() for n in self.project.services} if opts.start else {}
        each(lambda n: self._service(n, opts), list(self.project.services))

    def _service(self, name: str, opts: UpOptions) -> None:
        from dockyard.compose.loader import implicit_dependencies

        service = self.project.services[name]
        try:
            for dep in implicit_dependencies(service.config):
                if dep in self.made:
                    self.made[dep].wait()
            self.to_start[name] = self.converge_service(service, opts)
            self.made[name].set()
            if opts.start:
                each(lambda d: self._wait_dependency(service, d, service.depends_on[d]),
                     list(service.depends_on))  # fmt: skip
                each(lambda c: self.start_container(*c), self.to_start.get(name, []))
                self.ready[name].set()
        except BaseException as e:
            # the dependents fail with this service's own error (an Outcome is set once)
            self.made[name].set(e)
            if name in self.ready:
                self.ready[name].set(e)
            raise

    def _wait_dependency(self, service: Service, dep: str, spec: dict[str, Any]) -> None:
        if dep not in self.ready:
            return  # not part of this run (--no-deps, or a service not selected)
        self.ready[dep].wait()
        condition = spec.get("condition", "service_started")
        for cid in self.created.get(dep, []):
            if condition == "service_healthy":
                self.wait_healthy(cid, dep)
            elif condition == "service_completed_successfully":
                self.wait_completed(cid, dep)

    def wait_healthy(self, cid: str, service: str) -> None:
        name = None
        while True:
            info = self.api.inspect(cid)
            name = info["Name"].lstrip("/")
            state = info["State"]
            health = (state.get("Health") or {}).get("Status")
            if health is None:
                raise ComposeError(f"container {name} has no healthcheck configured")
            if health == "healthy":
                self.progress.event("Container", name, "Healthy")
                return
            if health == "unhealthy":
                raise ComposeError(f"dependency failed to start: container {name} is unhealthy")
            if state.get("Status") == "exited":
                raise ComposeError(
                    f"dependency failed to start: container {name} exited ({state.get('ExitCode')})"
                )
            sleep(POLL)

    def wait_completed(self, cid: str, service: str) -> None:
        while True:
            info = self.api.inspect(cid)
            state = info["State"]
            if state.get("Status") in ("exited", "dead"):
                code = state.get("ExitCode", 0)
                if code != 0:
                    raise ComposeError(
                        f'service "{service}" didn\'t complete successfully: exit {code}'
                    )
                self.progress.event("Container", info["Name"].lstrip("/"), "Exited")
                return
            sleep(POLL)

    def converge_service(self, service: Service, opts: UpOptions) -> list[tuple[str, str]]:
        """Create, recreate or remove the service's containers; the (id, name) of those
        to start."""
        if self._existing is None:
            self._existing = self.api.containers(self.project.name, True, None)
        existing = [
            c for c in self._existing
            if (c.get("Labels") or {}).get(labels.SERVICE) == service.name
            and (c.get("Labels") or {}).get(labels.ONEOFF) != "True"
        ]  # fmt: skip
        actions = plan.plan_service(
            existing, service.scale, labels.config_hash(service, self._first_container),
            self.image_ids.get(service.name), opts.recreate,
        )  # fmt: skip
        ids: list[tuple[int, str]] = []
        for a in actions:  # removals first: they free names and ports
            if a.kind == plan.REMOVE:
                self.remove_container(a.container, opts.timeout)  # type: ignore[arg-type]

        to_start: list[tuple[int, str, str]] = []

        def one(a: plan.Action) -> None:
            if a.kind == plan.CREATE:
                name = convert.container_name(self.project, service, a.number)
                cid = self.create_container(service, a.number, name)
            elif a.kind == plan.RECREATE:
                name = a.container["Names"][0].lstrip("/")  # type: ignore[index]
                cid = self.recreate_container(service, a.number, a.container, opts)  # type: ignore[arg-type]
            else:
                cid = a.container["Id"]  # type: ignore[index]
                name = a.container["Names"][0].lstrip("/")  # type: ignore[index]
                if a.kind == plan.KEEP:
                    self.progress.event("Container", name, "Running")
            ids.append((a.number, cid))
            if a.kind != plan.KEEP:
                to_start.append((a.number, cid, name))

        each(one, [a for a in actions if a.kind != plan.REMOVE])
        self.created[service.name] = [cid for _, cid in sorted(ids)]
        return [(cid, name) for _, cid, name in sorted(to_start)]

    def create_container(
        self,
        service: Service,
        number: int,
        name: str | None = None,
        oneoff: bool = False,
        override: dict[str, Any] | None = None,
        anon_volumes: dict[str, str] | None = None,
    ) -> str:
        name = name or convert.container_name(self.project, service, number)
        image_id = self.image_ids.get(service.name, "")
        lbls = labels.container_labels(self.project, service, number, oneoff, image_id,
                                       self._first_container)  # fmt: skip
        mode = convert.network_mode(self.project, service, self._first_container)
        nets = [self.project.networks[k]["name"] for k in convert.sorted_networks(service)]
        body = convert.create_body(self.project, service, lbls,
                                   convert.image_name(self.project, service), mode,
                                   nets[0] if nets else None)  # fmt: skip
        if override:
            body.update(override)
        for mount in body["HostConfig"]["Mounts"]:
            kept = (anon_volumes or {}).get(mount["Target"])
            if mount["Type"] == "volume" and not mount.get("Source") and kept:
                mount["Source"] = kept
        self.progress.event("Container", name, "Creating")
        cid = self.api.create(name, body)
        inject(self.api, self.project, service, cid)
        if not mode:
            for key in convert.sorted_networks(service)[1:]:
                net = self.project.networks[key]["name"]
                self.api.connect(net, cid, convert.endpoint(self.project, service, key))
        self.progress.event("Container", name, "Created")
        return cid

    def _first_container(self, service_name: str) -> str:
        """The first of a service's containers by name (v2's choice for `service:X`).

        Asked only once that service has converged (it is an implicit dependency)."""
        if service_name not in self._firsts:
            found = self.api.containers(self.project.name, True, False, service=service_name)
            if not found:
                raise ComposeError(f"service {service_name} has no container to refer to")
            self._firsts[service_name] = min(found, key=lambda c: c["Names"][0])["Id"]
        return self._firsts[service_name]

    def recreate_container(
        self, service: Service, number: int, old: dict[str, Any], opts: UpOptions
    ) -> str:
        name = old["Names"][0].lstrip("/")
        self.progress.event("Container", name, "Recreate")
        anon: dict[str, str] = {}
        if not opts.renew_anon_volumes:  # the new container keeps the old one's data
            info = self.api.inspect(old["Id"])
            anon = {m["Destination"]: m["Name"] for m in info.get("Mounts") or []
                    if m.get("Type") == "volume" and m.get("Name")}  # fmt: skip
        self.api.stop(old["Id"], opts.timeout)
        self.api.rename(old["Id"], f"{old['Id'][:12]}_{name}")
        cid = self.create_container(service, number, name, anon_volumes=anon)
        # its anonymous volumes go with it, except those the new container kept (in use)
        self.api.remove(old["Id"], True, True)
        self.progress.event("Container", name, "Recreated")
        return cid

    def start_container(self, cid: str, name: str) -> None:
        self.progress.event("Container", name, "Starting")
        self.api.start(cid)
        self.progress.event("Container", name, "Started")

    def remove_container(self, container: dict[str, Any], timeout: int | None) -> None:
        name = container["Names"][0].lstrip("/")
        if plan.is_running(container):
            self.progress.event("Container", name, "Stopping")
            self.api.stop(container["Id"], timeout)
            self.progress.event("Container", name, "Stopped")
        self.progress.event("Container", name, "Removing")
        self.api.remove(container["Id"], False, True)
        self.progress.event("Container", name, "Removed")

    # -- orphans -----------------------------------------------------------------
    def orphans(self) -> list[dict[str, Any]]:
        every = set(self.project.services) | set(self.project.disabled)
        found = self._existing
        if found is None:
            found = self.api.containers(self.project.name, True, None)
        return [c for c in found if (c.get("Labels") or {}).get(labels.SERVICE) not in every]

    def warn_orphans(self) -> None:
        found = self.orphans()
        if found:
            self.progress.warn(
                f"Found orphan containers ({', '.join(c['Names'][0].lstrip('/') for c in found)}) "
                f"for this project. If you removed or renamed this service in your compose file, "
                f"you can run this command with the --remove-orphans flag to clean it up."
            )

    def remove_orphans(self, timeout: int | None = None) -> None:
        each(lambda c: self.remove_container(c, timeout), self.orphans())

    # -- --wait ------------------------------------------------------------------
    def wait_running(self, timeout: float | None) -> None:
        """`up --wait`: every container running (healthy if it has a healthcheck)."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def one(cid: str, service: str) -> None:
            while True:
                info = self.api.inspect(cid)
                state = info["State"]
                name = info["Name"].lstrip("/")
                health = (state.get("Health") or {}).get("Status")
                if state.get("Status") == "running" and health in (None, "healthy"):
                    self.progress.event("Container", name, "Healthy" if health else "Running")
                    return
                if health == "unhealthy" or state.get("Status") in ("exited", "dead"):
                    if state.get("ExitCode") == 0 and not health:
                        return
                    raise ComposeError(f"container {name} is {health or state.get('Status')}")
                if deadline is not None and time.monotonic() > deadline:
                    raise ComposeError("timeout waiting for the project to be running and healthy")
                sleep(POLL)

        gather(*(lambda c=c, s=s: one(c, s) for s, ids in self.created.items() for c in ids))


def _to_create(spec: dict[str, Any], existing: dict[str, Any] | None, missing: str) -> bool:
    """Whether `up` creates this network or volume: one that exists is kept; an external
    one must exist already (ComposeError `missing` when it does not)."""
    if spec.get("external"):
        if existing is None:
            raise ComposeError(missing)
        return False
    return existing is None
