"""`up` and `create`: make the daemon's objects match the project, in dependency order.

Networks and volumes first (created when missing, external ones checked), then
images (pulled or built), then each service as soon as the services it depends on
are ready under their `depends_on` condition: started, healthy, or completed
successfully. Services whose dependencies are ready proceed in parallel (asyncio
tasks; each blocking Engine API call runs in a worker thread). Within a service,
`plan.plan_service` says which containers to create, recreate, start or remove.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from dockyard.client.errors import APIError
from dockyard.compose import convert, images, labels, plan
from dockyard.compose.errors import ComposeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.compose.engineapi import EngineAPI
    from dockyard.compose.model import Project, Service
    from dockyard.compose.progress import Progress

POLL = 0.2


@dataclass
class UpOptions:
    build: str = "auto"  # "auto" (missing images), "always" (--build), "never" (--no-build)
    recreate: str = "diverged"  # "diverged" | "force" | "never"
    start: bool = True
    remove_orphans: bool = False
    ignore_orphans: bool = False  # COMPOSE_IGNORE_ORPHANS: no warning
    no_deps: bool = False
    wait: bool = False
    wait_timeout: float | None = None
    renew_anon_volumes: bool = False
    timeout: int | None = None
    pull: str | None = None  # --pull always|missing|never
    quiet_pull: bool = False
    services: list[str] = field(default_factory=list)


async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


class Converger:
    def __init__(self, api: EngineAPI, project: Project, progress: Progress) -> None:
        self.api = api
        self.project = project
        self.progress = progress
        self.image_ids: dict[str, str] = {}
        self.ready: dict[str, asyncio.Future[None]] = {}
        self.created: dict[str, list[str]] = {}  # service -> container ids (in number order)
        self.made: dict[str, asyncio.Future[None]] = {}  # settles when a service's are created
        self.to_start: dict[str, list[tuple[str, str]]] = {}  # service -> (id, name) to start
        # the project's containers, listed once per `up` (one call, not one per service)
        self._existing: list[dict[str, Any]] | None = None
        self._image_info: dict[str, asyncio.Future[Any]] = {}

    # -- networks and volumes --------------------------------------------------
    async def ensure_networks(self) -> None:
        used = {n for s in self.project.services.values() for n in s.networks}
        await asyncio.gather(*(self._network(k) for k in self.project.networks if k in used))

    async def _network(self, key: str) -> None:
        spec = self.project.networks[key]
        name = spec["name"]
        existing = await call(self.api.network, name)
        if spec.get("external"):
            if existing is None:
                raise ComposeError(f"network {name} declared as external, but could not be found")
            return
        if existing is not None:
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
            await call(self.api.create_network, body)
        except APIError as e:
            if e.status != 409:  # created meanwhile by a parallel compose
                raise
        self.progress.event("Network", name, "Created")

    async def ensure_volumes(self) -> None:
        used = {
            m.get("source")
            for s in self.project.services.values()
            for m in s.config.get("volumes") or []
            if m.get("type") == "volume"
        }
        await asyncio.gather(*(self._volume(k) for k in self.project.volumes if k in used))

    async def _volume(self, key: str) -> None:
        spec = self.project.volumes[key]
        name = spec["name"]
        existing = await call(self.api.volume, name)
        if spec.get("external"):
            if existing is None:
                raise ComposeError(f'external volume "{name}" not found')
            return
        if existing is not None:
            return
        self.progress.event("Volume", f'"{name}"', "Creating")
        await call(self.api.create_volume, {
            "Name": name,
            "Driver": spec.get("driver") or "local",
            "DriverOpts": spec.get("driver_opts") or {},
            "Labels": {**(spec.get("labels") or {}), **labels.project_labels(self.project),
                       labels.VOLUME: key},
        })  # fmt: skip
        self.progress.event("Volume", f'"{name}"', "Created")

    # -- images -----------------------------------------------------------------
    async def ensure_images(self, opts: UpOptions) -> None:
        await asyncio.gather(*(self._image(s, opts) for s in self.project.services.values()))

    async def _image(self, service: Service, opts: UpOptions) -> None:
        ref = convert.image_name(self.project, service)
        policy = opts.pull or service.config.get("pull_policy") or "missing"
        if service.build and (opts.build == "always" or policy == "build"):
            self.image_ids[service.name] = await self._build(service, ref)
            return
        info = None if policy == "always" else await self._inspect_image(ref)
        if (
            info is None
            and service.image
            and policy != "never"
            and (not service.build or policy == "always")
        ):
            self.progress.event("Image", ref, "Pulling")
            try:
                await call(images.pull, self.api, ref)
            except ComposeError:
                if not service.build:
                    raise
            else:
                self.progress.event("Image", ref, "Pulled")
            info = await call(self.api.image, ref)
        if info is None and service.build and opts.build != "never":
            self.image_ids[service.name] = await self._build(service, ref)
            return
        if info is None:
            raise ComposeError(f"No such image: {ref}")
        self.image_ids[service.name] = info["Id"]

    async def _inspect_image(self, ref: str) -> Any:
        """One inspect per distinct image, however many services run it."""
        if ref not in self._image_info:
            self._image_info[ref] = asyncio.ensure_future(call(self.api.image, ref))
        return await asyncio.shield(self._image_info[ref])

    async def _build(self, service: Service, ref: str) -> str:
        self.progress.event("Service", service.name, "Building")
        image_id = await call(images.build, self.api, self.project, service, ref)
        self.progress.event("Service", service.name, "Built")
        return image_id

    # -- containers --------------------------------------------------------------
    async def up(self, opts: UpOptions) -> None:
        # independent look-ups go out together: a no-op `up` is a few round trips deep
        existing, *_ = await asyncio.gather(
            call(self.api.containers, self.project.name, True, None),
            self.ensure_networks(), self.ensure_volumes(), self.ensure_images(opts),
        )  # fmt: skip
        self._existing = existing
        if opts.remove_orphans:
            await self.remove_orphans()
        elif not opts.ignore_orphans:
            await self.warn_orphans()
        # Containers are created (or recreated) first, all services at once except where
        # one needs another's container to exist (network_mode service:, volumes_from,
        # links); then started in dependency order as each `depends_on` condition holds.
        loop = asyncio.get_running_loop()
        self.made = {n: loop.create_future() for n in self.project.services}
        await self._each_service(self.made, lambda n: self._create_phase(n, opts))
        if opts.start:
            self.ready = {n: loop.create_future() for n in self.project.services}
            await self._each_service(self.ready, self._start_phase)

    async def _each_service(self, done: dict[str, asyncio.Future[None]],
                            step: Callable[[str], Any]) -> None:  # fmt: skip
        """Run `step` for every service; `done[name]` settles with its outcome."""

        async def settle(name: str) -> None:
            try:
                await step(name)
            except BaseException as e:
                if not done[name].done():
                    done[name].set_exception(
                        e if isinstance(e, Exception) else ComposeError("cancelled"))  # fmt: skip
                raise
            if not done[name].done():
                done[name].set_result(None)

        tasks = [asyncio.ensure_future(settle(n)) for n in done]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            for f in done.values():  # nobody waits on these any more
                if f.done() and not f.cancelled():
                    f.exception()

    async def _create_phase(self, name: str, opts: UpOptions) -> None:
        from dockyard.compose.loader import implicit_dependencies

        service = self.project.services[name]
        needed = [self.made[d] for d in implicit_dependencies(service.config) if d in self.made]
        await asyncio.gather(*needed)
        self.to_start[name] = await self.converge_service(service, opts)

    async def _start_phase(self, name: str) -> None:
        service = self.project.services[name]
        await asyncio.gather(
            *(self._wait_dependency(service, d, s) for d, s in service.depends_on.items())
        )
        await asyncio.gather(*(self.start_container(cid, cname)
                               for cid, cname in self.to_start.get(name, [])))  # fmt: skip

    async def _wait_dependency(self, service: Service, dep: str, spec: dict[str, Any]) -> None:
        if dep not in self.ready:
            return  # not part of this run (--no-deps, or a service not selected)
        await self.ready[dep]
        condition = spec.get("condition", "service_started")
        for cid in self.created.get(dep, []):
            if condition == "service_healthy":
                await self.wait_healthy(cid, dep)
            elif condition == "service_completed_successfully":
                await self.wait_completed(cid, dep)

    async def wait_healthy(self, cid: str, service: str) -> None:
        name = None
        while True:
            info = await call(self.api.inspect, cid)
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
            await asyncio.sleep(POLL)

    async def wait_completed(self, cid: str, service: str) -> None:
        while True:
            info = await call(self.api.inspect, cid)
            state = info["State"]
            if state.get("Status") in ("exited", "dead"):
                code = state.get("ExitCode", 0)
                if code != 0:
                    raise ComposeError(
                        f'service "{service}" didn\'t complete successfully: exit {code}'
                    )
                self.progress.event("Container", info["Name"].lstrip("/"), "Exited")
                return
            await asyncio.sleep(POLL)

    async def converge_service(self, service: Service, opts: UpOptions) -> list[tuple[str, str]]:
        """Create, recreate or remove the service's containers; the (id, name) of those
        to start."""
        if self._existing is None:
            self._existing = await call(self.api.containers, self.project.name, True, None)
        existing = [
            c for c in self._existing
            if (c.get("Labels") or {}).get(labels.SERVICE) == service.name
            and (c.get("Labels") or {}).get(labels.ONEOFF) != "True"
        ]  # fmt: skip
        actions = plan.plan_service(
            existing, service.scale, labels.config_hash(service),
            self.image_ids.get(service.name), opts.recreate,
        )  # fmt: skip
        ids: list[tuple[int, str]] = []
        for a in actions:  # removals first: they free names and ports
            if a.kind == plan.REMOVE:
                await self.remove_container(a.container, opts.timeout)  # type: ignore[arg-type]

        to_start: list[tuple[int, str, str]] = []

        async def one(a: plan.Action) -> None:
            if a.kind == plan.CREATE:
                name = convert.container_name(self.project, service, a.number)
                cid = await self.create_container(service, a.number, name)
            elif a.kind == plan.RECREATE:
                name = a.container["Names"][0].lstrip("/")  # type: ignore[index]
                cid = await self.recreate_container(service, a.number, a.container, opts)  # type: ignore[arg-type]
            else:
                cid = a.container["Id"]  # type: ignore[index]
                name = a.container["Names"][0].lstrip("/")  # type: ignore[index]
                if a.kind == plan.KEEP:
                    self.progress.event("Container", name, "Running")
            ids.append((a.number, cid))
            if a.kind != plan.KEEP:
                to_start.append((a.number, cid, name))

        await asyncio.gather(*(one(a) for a in actions if a.kind != plan.REMOVE))
        self.created[service.name] = [cid for _, cid in sorted(ids)]
        return [(cid, name) for _, cid, name in sorted(to_start)]

    async def create_container(
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
        lbls = labels.container_labels(self.project, service, number, oneoff, image_id)
        mode = convert.network_mode(self.project, service, self._service_container)
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
        cid = await call(self.api.create, name, body)
        if not mode:
            for key in convert.sorted_networks(service)[1:]:
                net = self.project.networks[key]["name"]
                await call(self.api.connect, net, cid, convert.endpoint(self.project, service, key))
        self.progress.event("Container", name, "Created")
        return cid

    def _service_container(self, service_name: str) -> str:
        found = self.api.containers(self.project.name, True, False, service=service_name)
        if not found:
            raise ComposeError(f"service {service_name} has no container to share a network with")
        return found[0]["Id"]

    async def recreate_container(
        self, service: Service, number: int, old: dict[str, Any], opts: UpOptions
    ) -> str:
        name = old["Names"][0].lstrip("/")
        self.progress.event("Container", name, "Recreate")
        anon: dict[str, str] = {}
        if not opts.renew_anon_volumes:  # the new container keeps the old one's data
            info = await call(self.api.inspect, old["Id"])
            anon = {m["Destination"]: m["Name"] for m in info.get("Mounts") or []
                    if m.get("Type") == "volume" and m.get("Name")}  # fmt: skip
        await call(self.api.stop, old["Id"], opts.timeout)
        await call(self.api.rename, old["Id"], f"{old['Id'][:12]}_{name}")
        cid = await self.create_container(service, number, name, anon_volumes=anon)
        # its anonymous volumes go with it, except those the new container kept (in use)
        await call(self.api.remove, old["Id"], True, True)
        self.progress.event("Container", name, "Recreated")
        return cid

    async def start_container(self, cid: str, name: str) -> None:
        self.progress.event("Container", name, "Starting")
        await call(self.api.start, cid)
        self.progress.event("Container", name, "Started")

    async def remove_container(self, container: dict[str, Any], timeout: int | None) -> None:
        name = container["Names"][0].lstrip("/")
        if plan.is_running(container):
            self.progress.event("Container", name, "Stopping")
            await call(self.api.stop, container["Id"], timeout)
            self.progress.event("Container", name, "Stopped")
        self.progress.event("Container", name, "Removing")
        await call(self.api.remove, container["Id"], False, True)
        self.progress.event("Container", name, "Removed")

    # -- orphans -----------------------------------------------------------------
    async def orphans(self) -> list[dict[str, Any]]:
        every = set(self.project.services) | set(self.project.disabled)
        found = self._existing
        if found is None:
            found = await call(self.api.containers, self.project.name, True, None)
        return [c for c in found if (c.get("Labels") or {}).get(labels.SERVICE) not in every]

    async def warn_orphans(self) -> None:
        found = await self.orphans()
        if found:
            self.progress.warn(
                f"Found orphan containers ({', '.join(c['Names'][0].lstrip('/') for c in found)}) "
                f"for this project. If you removed or renamed this service in your compose file, "
                f"you can run this command with the --remove-orphans flag to clean it up."
            )

    async def remove_orphans(self, timeout: int | None = None) -> None:
        await asyncio.gather(*(self.remove_container(c, timeout) for c in await self.orphans()))

    # -- --wait ------------------------------------------------------------------
    async def wait_running(self, timeout: float | None) -> None:
        """`up --wait`: every container running (healthy if it has a healthcheck)."""
        deadline = None if timeout is None else time.monotonic() + timeout

        async def one(cid: str, service: str) -> None:
            while True:
                info = await call(self.api.inspect, cid)
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
                await asyncio.sleep(POLL)

        await asyncio.gather(*(one(c, s) for s, ids in self.created.items() for c in ids))
