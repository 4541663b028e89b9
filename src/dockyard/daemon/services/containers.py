"""The container service: Docker's container life cycle over monitors and a runtime.

It owns container records (one JSON file each, rewritten atomically), names,
the link to each container's monitor (`monitor/`), waiters, attach
subscribers and the json-file logs. Images and snapshots come from the image
service; the OCI spec from `ocispec`. A container's states:

  create → "created" (snapshot prepared, nothing running)
  start  → rootfs mounted, monitor spawned (runtime create), {"op":"start"} → "running"
  exit   → the monitor reports it, unmounts and deletes the runtime state → "exited"
  rm     → snapshot and directories removed; `removed` waiters released

The daemon never forks into a container: the monitor and runtime are exec'd.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from dockyard.api.errors import (
    Conflict,
    DockyardError,
    InvalidParameter,
    NoSuchContainer,
    NotFound,
    NotModified,
    SystemError_,
)
from dockyard.api.filters import labels_match
from dockyard.api.timefilters import unix_time
from dockyard.daemon.paths import DaemonPaths
from dockyard.daemon.services import hostcheck, logopts, names, ocispec, shared_ns
from dockyard.daemon.services.disk_usage import rw_size
from dockyard.daemon.services.events import EventBus
from dockyard.daemon.services.logreader import Follow, LogQuery, read_log
from dockyard.daemon.services.monitors import MonitorHosts, output_wanted, read_link
from dockyard.daemon.services.outputs import Fanout, Subscription
from dockyard.daemon.services.reclaim import container_leftovers
from dockyard.daemon.services.runtimes import Runtime, Runtimes, check_runtime, runtime_for
from dockyard.daemon.services.signals import parse_signal
from dockyard.daemon.services.stdin import StdinLink
from dockyard.fsutil import write_json_atomic
from dockyard.humanize import human_duration
from dockyard.monitor import jsonlog, protocol
from dockyard.proto import stdcopy
from dockyard.rootpath import open_in_root

log = logging.getLogger("dockyard.containers")

ZERO_TIME = "0001-01-01T00:00:00Z"


class ImageLike(Protocol):
    id: str
    config: dict[str, Any]
    snapshot: str | None
    repo_tags: list[str]


@dataclass(frozen=True)
class SandboxInfo:
    """What the network side decided for one start of a container.

    netns: a path to bind-mounted network namespace the runtime joins; None for a
    fresh empty one (made by the runtime); "host" for the host's.
    hosts: extra /etc/hosts lines ("10.0.0.2\tname alias"); resolv_conf: the file's
    content, or None for the host's (filtered) one; hostname: the one the network
    decides (another container's network: its hostname), else the container's own.
    env: variables the network side adds (legacy links' ALIAS_PORT_*, ALIAS_ENV_*).
    """

    netns: str | None = None
    hosts: tuple[str, ...] = ()
    resolv_conf: str | None = None
    hostname: str | None = None
    env: tuple[str, ...] = ()


class NetworkAttacher(Protocol):
    """The seam to the network layer: called around each run of a container."""

    async def attach(self, c: Container) -> SandboxInfo: ...

    async def detach(self, c: Container) -> None: ...


class VolumeMounter(Protocol):
    """The seam to the volume layer: OCI mounts for Binds/Mounts/Tmpfs/Volumes."""

    async def mounts(self, c: Container, rootfs: str) -> list[dict[str, Any]]: ...

    async def release(self, c: Container, remove_anonymous: bool) -> None: ...


class NoNetwork:
    async def attach(self, c: Container) -> SandboxInfo:
        return SandboxInfo()

    async def detach(self, c: Container) -> None:
        return None


class NoVolumes:
    async def mounts(self, c: Container, rootfs: str) -> list[dict[str, Any]]:
        return []

    async def release(self, c: Container, remove_anonymous: bool) -> None:
        return None


class ImageProvider(Protocol):
    """What the container service needs from the image service."""

    snapshotter: Any

    def resolve(self, ref_or_id: str) -> ImageLike: ...


@dataclass
class Live:
    """In-memory state of a container; rebuilt on daemon start."""

    writer: asyncio.StreamWriter | None = None
    reader_task: asyncio.Task[None] | None = None
    subscribers: Fanout = field(default_factory=Fanout)
    stdin: StdinLink = field(default_factory=StdinLink)
    waiters: list[tuple[str, asyncio.Future[dict[str, Any]]]] = field(default_factory=list)
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    output: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Future[dict[str, Any]] | None = None
    linked: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    removing: bool = False
    restart_task: asyncio.Task[None] | None = None
    health_task: asyncio.Task[None] | None = None
    backoff: float = 0.0
    started_mono: float = 0.0


@dataclass
class Container:
    id: str
    name: str
    created: str
    image: str
    image_id: str
    config: dict[str, Any]
    host_config: dict[str, Any]
    path: str
    args: list[str]
    state: dict[str, Any]
    restart_count: int = 0
    manually_stopped: bool = False
    live: Live = field(default_factory=Live, repr=False, compare=False)

    @property
    def running(self) -> bool:
        return bool(self.state.get("Running"))

    def record(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Name": self.name,
            "Created": self.created,
            "Image": self.image,
            "ImageID": self.image_id,
            "Config": self.config,
            "HostConfig": self.host_config,
            "Path": self.path,
            "Args": self.args,
            "State": self.state,
            "RestartCount": self.restart_count,
            "HasBeenManuallyStopped": self.manually_stopped,
        }

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Container:
        return cls(
            id=r["ID"],
            name=r["Name"],
            created=r["Created"],
            image=r["Image"],
            image_id=r["ImageID"],
            config=r["Config"],
            host_config=r["HostConfig"],
            path=r["Path"],
            args=r["Args"],
            state=r["State"],
            restart_count=r.get("RestartCount", 0),
            manually_stopped=r.get("HasBeenManuallyStopped", False),
        )


def _initial_state() -> dict[str, Any]:
    return {
        "Status": "created",
        "Running": False,
        "Paused": False,
        "Restarting": False,
        "OOMKilled": False,
        "Dead": False,
        "Pid": 0,
        "ExitCode": 0,
        "Error": "",
        "StartedAt": ZERO_TIME,
        "FinishedAt": ZERO_TIME,
    }


def _read_in_root(root: str, rel: str) -> str:
    """A small text file from the container's rootfs, never following links out of it."""
    try:
        with open_in_root(root, rel) as f:
            return f.read(1 << 20).decode("utf-8", "replace")
    except (FileNotFoundError, NotADirectoryError):
        return ""


def _host_resolv_conf() -> str:
    try:
        with open("/etc/resolv.conf") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    kept = []
    for line in lines:
        parts = line.split()
        if parts and parts[0] == "nameserver" and len(parts) > 1:
            if parts[1].startswith("127.") or parts[1] == "::1":
                continue
        kept.append(line)
    if not any(line.split()[:1] == ["nameserver"] for line in kept if line.split()):
        kept += ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
    return "\n".join(kept) + "\n"


class ContainerService:
    def __init__(
        self,
        paths: DaemonPaths,
        images: ImageProvider,
        events: EventBus,
        mount_all: Callable[[list[Any], str], None],
        unmount: Callable[[str], None],
        runtime: str,
        runtime_args: list[str] | None = None,
        network: NetworkAttacher | None = None,
        volumes: VolumeMounter | None = None,
        security: ocispec.SecurityDefaults | None = None,
    ) -> None:
        self.security = security or ocispec.SecurityDefaults()
        self.network: NetworkAttacher = network or NoNetwork()
        self.volumes: VolumeMounter = volumes or NoVolumes()
        self.paths = paths
        self.images = images
        self.events = events
        self._mount_all = mount_all
        self._unmount = unmount
        self.runtime = runtime
        self.runtime_args = runtime_args if runtime_args is not None else []
        self.containers: dict[str, Container] = {}
        self.closing = False
        self.by_name: dict[str, str] = {}
        self.monitors = MonitorHosts(
            os.path.join(paths.exec_root, "m"),
            os.path.join(os.path.dirname(sys.executable), "dockyard-monitor"),
        )
        # The runtime's argv (without the program) when it is our own and the
        # monitor may run it in-process; None for runc and other runtimes.
        self.runtime_inproc: list[str] | None = None
        # `--init`: a static reaping init bind-mounted as /sbin/docker-init, as Docker does.
        self.init_binary = shutil.which("tini-static") or shutil.which("docker-init")
        self._tasks: set[asyncio.Task[Any]] = set()
        self.runtime_name = os.path.basename(runtime)  # HostConfig.Runtime (dockerd: "runc")
        self.runtimes: Runtimes | None = None  # the others, by name (main wires them)
        self.log_default: dict[str, Any] = {"Type": "json-file", "Config": {}}  # --log-driver

    def runtime_of(self, host_config: dict[str, Any]) -> Runtime:
        return runtime_for(self, host_config)

    def _background(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """A task nobody awaits, held until it ends: the loop keeps only weak
        references, and a task parked on a stream it alone references is
        garbage-collected mid-await (a restart was lost that way)."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- lookup -----------------------------------------------------------------------
    def get(self, ref: str) -> Container:
        if not ref:
            raise NoSuchContainer(ref)
        c = self.containers.get(ref)
        if c is not None:
            return c
        cid = self.by_name.get(ref if ref.startswith("/") else "/" + ref)
        if cid is not None:
            return self.containers[cid]
        matches = [c for cid, c in self.containers.items() if cid.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        raise NoSuchContainer(ref)

    def images_in_use(self, image_id: str) -> list[str]:
        return [c.id for c in self.containers.values() if c.image_id == image_id]

    def images_running(self, image_id: str) -> list[str]:
        return [c.id for c in self.containers.values() if c.image_id == image_id and c.running]

    def _save(self, c: Container, durable: bool = False) -> None:
        """The record on disk; durable (fsync'd) when created, not on each change
        of state (see fsutil)."""
        write_json_atomic(self.paths.container_record(c.id), c.record(), durable)

    def _attrs(self, c: Container, **extra: str) -> dict[str, str]:
        attrs = {k: str(v) for k, v in (c.config.get("Labels") or {}).items()}
        attrs.update({"image": c.image, "name": c.name.lstrip("/")})
        attrs.update(extra)
        return attrs

    # ---- restore ----------------------------------------------------------------------
    async def restore(self) -> None:
        """Load records; reconnect to monitors of running containers (live restore)."""
        root = self.paths.containers_root
        for cid in sorted(os.listdir(root)):
            path = self.paths.container_record(cid)
            try:
                with open(path) as f:
                    c = Container.from_record(json.load(f))
            except (OSError, json.JSONDecodeError, KeyError):
                log.warning("skipping unreadable container record %s", path)
                continue
            self.containers[c.id] = c
            self.by_name[c.name] = c.id
        await asyncio.to_thread(
            container_leftovers, root, self.paths.bundles_root,
            os.path.basename(self.paths.container_record("x")), set(self.containers),
            self.images.snapshotter,
        )  # fmt: skip
        for c in list(self.containers.values()):
            if c.running:
                try:
                    await self._connect(c)
                    self._send(c, {"op": "status"})
                    self._start_health(c)
                except OSError:
                    await self._exited_while_away(c)
            else:
                if c.state.get("Restarting"):
                    c.state.update(Restarting=False, Status="exited")
                await self._reap_half_started(c)
        for c in list(self.containers.values()):
            policy = restart_policy(c.host_config)[0]
            if not c.running and not c.manually_stopped and policy in ("always", "unless-stopped"):
                try:
                    await self.start(c.id)
                except DockyardError as exc:
                    log.warning("restart of %s on daemon start failed: %s", c.id[:12], exc.message)

    async def _exited_while_away(self, c: Container) -> None:
        try:
            with open(self.paths.exit_file(c.id)) as f:
                result = json.load(f)
        except (OSError, json.JSONDecodeError):
            result = {"exit_code": 255, "finished_at": jsonlog.rfc3339_nano(), "error": ""}
        await asyncio.to_thread(self._unmount_container, c.id)
        await self._runtime_delete(c.id)
        await self._on_exit(c, result)

    async def _reap_half_started(self, c: Container) -> None:
        """A daemon killed inside `start` can leave a monitor whose container never
        got `start`, and a mounted rootfs. Neither belongs to a container that is
        not running: kill the one, unmount the other."""
        sock = self.paths.monitor_socket(c.id)
        if os.path.exists(sock):
            try:
                reader, writer = await asyncio.open_unix_connection(sock)
            except OSError:
                pass
            else:
                writer.write(protocol.control({"op": "kill", "signal": int(signal.SIGKILL)}))
                try:
                    while await asyncio.wait_for(reader.read(65536), 5):
                        pass
                except (TimeoutError, ConnectionError):
                    pass
                writer.close()
            await self._runtime_delete(c.id)
        await asyncio.to_thread(self._unmount_container, c.id)

    async def _runtime_update(self, c: Container, resources: dict[str, Any]) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self.runtime_of(c.host_config).argv, "update", "--resources", "-", c.id,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await proc.communicate(json.dumps(resources).encode())
        if proc.returncode != 0:
            raise SystemError_(
                f"Cannot update container {c.id}: {err.decode(errors='replace').strip()}"
            )

    async def _runtime_delete(self, cid: str) -> None:
        """Forget the runtime's state of a container whose monitor is gone (it would
        have deleted it), so the id can be created again."""
        c = self.containers.get(cid)
        proc = await asyncio.create_subprocess_exec(
            *self.runtime_of(c.host_config if c else {}).argv, "delete", "--force", cid,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await proc.wait()

    # ---- create -----------------------------------------------------------------------
    def create(self, name: str | None, body: dict[str, Any]) -> tuple[str, list[str]]:
        if not isinstance(body, dict):
            raise InvalidParameter("invalid container config")
        host_config = body.pop("HostConfig", None) or {}
        networking = body.pop("NetworkingConfig", None)
        image_ref = body.get("Image") or ""
        if not image_ref:
            raise InvalidParameter("invalid reference format")
        if host_config.get("AutoRemove") and (host_config.get("RestartPolicy") or {}).get(
            "Name"
        ) not in (None, "", "no"):
            raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
        canonical = names.validate(name) if name else names.random_name(set(self.by_name))
        if canonical in self.by_name:
            other = self.by_name[canonical]
            raise Conflict(
                f'Conflict. The container name "{canonical}" is already in use by container '
                f'"{other}". You have to remove (or rename) that container to be able to reuse '
                "that name."
            )
        image = self.images.resolve(image_ref)
        cfg = ocispec.merge_config(body, (image.config or {}).get("config") or {})
        args = ocispec.command_line(cfg)
        cid = secrets.token_hex(32)
        cfg["Image"] = image_ref
        cfg.setdefault("Hostname", "")
        shared_ns.resolve_at_create(host_config, cfg, cid, self.get)
        for key, default in (
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
        ):
            cfg.setdefault(key, default)
        if not host_config.get("NetworkMode"):
            host_config["NetworkMode"] = "default"
        host_config["LogConfig"] = logopts.with_defaults(
            host_config.get("LogConfig") or {}, self.log_default
        )
        host_config.setdefault("RestartPolicy", {"Name": "no", "MaximumRetryCount": 0})
        host_config.setdefault("AutoRemove", False)
        ocispec.validate_host_config(host_config, self.security)
        warnings = hostcheck.discard_unsupported(host_config)
        check_runtime(self, host_config.get("Runtime"))
        ocispec.fill_host_config(host_config, self.runtime_name)
        logopts.check_names(host_config.get("LogConfig") or {})
        os.makedirs(self.paths.container_dir(cid), mode=0o700)
        try:
            self.images.snapshotter.prepare(cid, image.snapshot)
            c = Container(
                id=cid,
                name=canonical,
                created=jsonlog.rfc3339_nano(),
                image=image_ref,
                image_id=image.id,
                config=cfg,
                host_config=host_config,
                path=args[0],
                args=args[1:],
                state=_initial_state(),
            )
            created = getattr(self.network, "created", None)
            if created is not None:  # the network layer checks and keeps NetworkingConfig
                created(c, networking)
            validate = getattr(self.volumes, "validate", None)
            if validate is not None:  # the volume layer checks Binds/Mounts (--mount errors)
                validate(c)
            self._save(c, durable=True)
        except BaseException:
            with contextlib.suppress(Exception):
                self.images.snapshotter.remove(cid)
            self._remove_files(cid)
            raise
        self.containers[cid] = c
        self.by_name[canonical] = cid
        self.events.publish("container", "create", cid, self._attrs(c))
        return cid, warnings

    # ---- start ------------------------------------------------------------------------
    async def start(self, ref: str) -> None:
        c = self.get(ref)
        async with c.live.lock:
            if c.running:
                raise NotModified("container already started")
            if c.live.removing:
                raise Conflict(f"container {c.id} is marked for removal and cannot be started")
            c.manually_stopped = False
            self._cancel_restart(c)
            try:
                await self._start(c)
                self._start_health(c)
            except DockyardError as exc:
                c.state["Error"] = exc.message
                for q in c.live.subscribers:  # attach streams end, as dockerd's do
                    q.put_nowait(None)
                if "executable file not found" in exc.message or "no such file" in exc.message:
                    c.state["ExitCode"] = 127
                elif "permission denied" in exc.message:
                    c.state["ExitCode"] = 126
                self._save(c)
                if c.host_config.get("AutoRemove"):
                    # As dockerd: a container that cannot start is removed, which
                    # releases the client's `condition=removed` wait.
                    self._background(self.remove(c.id, force=True))
                raise

    async def _start(self, c: Container) -> None:
        cid = c.id
        bundle = self.paths.bundle(cid)
        rootfs = self.paths.rootfs(cid)
        os.makedirs(rootfs, exist_ok=True)
        mounts = self.images.snapshotter.mounts(cid)
        await asyncio.to_thread(self._mount_all, mounts, rootfs)
        sandbox: SandboxInfo | None = None
        try:
            await asyncio.to_thread(shared_ns.mount_shm, c.host_config, self.paths.shm(cid))
            sandbox = await self.network.attach(c)
            spec = self._spec(c, rootfs, sandbox, await self.volumes.mounts(c, rootfs))
            write_json_atomic(os.path.join(bundle, "config.json"), spec, durable=False)
            try:
                os.unlink(self.paths.exit_file(cid))
            except FileNotFoundError:
                pass
            log_config = c.host_config.get("LogConfig") or {}
            mcfg = {
                "id": cid,
                "bundle": bundle,
                "rootfs": rootfs,
                **self.runtime_of(c.host_config).monitor_config(),
                "socket": self.paths.monitor_socket(cid),
                **logopts.monitor_log(log_config, self.paths.log(cid), c),
                "exit_file": self.paths.exit_file(cid),
                "stdin": bool(c.config.get("OpenStdin")),
                "tty": bool(c.config.get("Tty")),
            }
            write_json_atomic(self.paths.monitor_config(cid), mcfg, durable=False)
            line = await self.monitors.place(self.paths.monitor_config(cid))
            try:
                ready = json.loads(line)
            except json.JSONDecodeError:
                ready = {"ok": False, "error": "monitor exited without a word"}
            if not ready.get("ok"):
                err = ready.get("error", "unknown error")
                msg = (
                    "failed to create task for container: failed to create shim task: "
                    f"OCI runtime create failed: {err}: unknown"
                )
                if "executable file not found" in err or "no such file" in err:
                    raise InvalidParameter(msg)
                raise SystemError_(msg)
        except BaseException:
            await asyncio.to_thread(self._unmount_container, cid)
            if sandbox is not None:
                await self.network.detach(c)
            raise
        c.live.exited = asyncio.Event()
        loop = asyncio.get_running_loop()
        c.live.started = loop.create_future()
        await self._connect(c)
        self._send(c, {"op": "start"})
        result = await c.live.started
        if result.get("event") == "error":
            raise SystemError_(
                "failed to start container: OCI runtime start failed: "
                f"{result.get('message', '')}: unknown"
            )
        # The reader task recorded "running" when the monitor said so (see
        # `_mark_running`): it sees "started" and "exit" in order, so a container that
        # exits at once is never left marked running by a late update here.

    def _spec(
        self, c: Container, rootfs: str, sandbox: SandboxInfo, volume_mounts: list[dict[str, Any]]
    ) -> dict[str, Any]:
        cfg, hc = c.config, c.host_config
        for req in hc.get("DeviceRequests") or []:  # `--gpus`: no device driver here
            caps = " ".join("[" + " ".join(c) + "]" for c in req.get("Capabilities") or [])
            raise SystemError_(
                f'could not select device driver "{req.get("Driver") or ""}" '
                f"with capabilities: [{caps}]"
            )
        user = ocispec.resolve_user(
            cfg.get("User") or "0",
            _read_in_root(rootfs, "etc/passwd"),
            _read_in_root(rootfs, "etc/group"),
        )
        hostname = sandbox.hostname or cfg.get("Hostname") or c.id[:12]
        etc = self._write_etc_files(c, hostname, sandbox)
        extra_mounts = [
            {"destination": dest, "type": "bind", "source": src,
             "options": ["rbind", "rprivate"]}
            for dest, src in etc
        ]  # fmt: skip
        args = [c.path, *c.args]
        if hc.get("Init") and self.init_binary:
            extra_mounts.append(
                {"destination": "/sbin/docker-init", "type": "bind", "source": self.init_binary,
                 "options": ["rbind", "ro", "nosuid", "nodev"]}
            )  # fmt: skip
            args = ["/sbin/docker-init", "--", *args]
        spec = ocispec.build_spec(
            args=args,
            env=ocispec.process_env(cfg, hostname, bool(cfg.get("Tty")), sandbox.env),
            cwd=cfg.get("WorkingDir") or "/",
            user=user,
            hostname=hostname,
            domainname=cfg.get("Domainname") or "",
            rootfs=rootfs,
            tty=bool(cfg.get("Tty")),
            read_only=bool(hc.get("ReadonlyRootfs")),
            extra_mounts=extra_mounts,
            cgroups_path=f"/dockyard/{c.id}",
            privileged=bool(hc.get("Privileged")),
            cap_add=hc.get("CapAdd") or [],
            cap_drop=hc.get("CapDrop") or [],
        )
        ocispec.apply_host_config(spec, hc, self.security)
        shared_ns.join_at_start(spec, hc, c.id, self.get, self.paths.shm)
        if spec["linux"].get("uidMappings") and self.security.userns_remap:
            ocispec.remap_rootfs_ownership(
                rootfs,
                self.security.userns_remap,
                tops=[self.paths.exec_root, self.paths.data_root],
                sources=[src for _, src in etc],
            )
        spec["mounts"].extend(volume_mounts)
        console = hc.get("ConsoleSize") or [0, 0]
        if cfg.get("Tty") and len(console) == 2 and console[0] and console[1]:
            # The client's window from the start; resizes follow (`docker run -it`).
            spec["process"]["consoleSize"] = {"height": console[0], "width": console[1]}
        namespaces = spec["linux"]["namespaces"]
        if sandbox.netns == "host":
            spec["linux"]["namespaces"] = [n for n in namespaces if n["type"] != "network"]
        elif sandbox.netns:
            for n in namespaces:
                if n["type"] == "network":
                    n["path"] = sandbox.netns
        return spec

    def _write_etc_files(
        self, c: Container, hostname: str, sandbox: SandboxInfo
    ) -> list[tuple[str, str]]:
        hosts = (
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
            "ff02::2\tip6-allrouters\n"
        )
        hosts += "".join(line + "\n" for line in sandbox.hosts)
        files = {
            "hostname": hostname + "\n",
            "hosts": hosts,
            "resolv.conf": sandbox.resolv_conf or _host_resolv_conf(),
        }
        out = []
        for name, content in files.items():
            path = self.paths.etc_file(c.id, name)
            with open(path, "w") as f:
                f.write(content)
            out.append((f"/etc/{name}", path))
        return out

    # ---- the monitor link ------------------------------------------------------------
    async def _connect(self, c: Container) -> None:
        reader, writer = await asyncio.open_unix_connection(self.paths.monitor_socket(c.id))
        c.live.writer = writer
        c.live.subscribers.link(functools.partial(output_wanted, writer))
        c.live.stdin.linked(self.paths.monitor_socket(c.id))
        c.live.linked.set()
        c.live.reader_task = asyncio.create_task(self._read_monitor(c, reader))

    def _send(self, c: Container, msg: dict[str, Any]) -> None:
        if c.live.writer is not None and not c.live.writer.is_closing():
            c.live.writer.write(protocol.control(msg))

    async def send_stdin(self, c: Container, data: bytes) -> None:
        await c.live.stdin.send(data)  # waits while the container does not read

    async def _read_monitor(self, c: Container, reader: asyncio.StreamReader) -> None:
        exit_result: dict[str, Any] | None = None

        def on_control(msg: dict[str, Any]) -> None:
            nonlocal exit_result
            ev = msg.get("event")
            if ev in ("started", "error"):
                if ev == "started":
                    self._mark_running(c, msg)
                if c.live.started is not None and not c.live.started.done():
                    c.live.started.set_result(msg)
            elif ev == "exit":
                exit_result = msg
            elif ev == "output":  # output is on: what came before it is in the log
                wake_followers()

        def on_output(frame: stdcopy.Frame) -> None:
            c.live.subscribers.publish(frame)
            wake_followers()

        def wake_followers() -> None:
            c.live.output.set()
            c.live.output = asyncio.Event()

        try:
            await read_link(reader, on_control, on_output, c.live.subscribers)
        except (ConnectionError, ValueError) as exc:
            log.warning("monitor link of %s broke: %s", c.id[:12], exc)
        except asyncio.CancelledError:
            if c.live.writer is not None:
                c.live.writer.close()
            c.live.writer = None
            raise
        finally:
            if c.live.writer is not None:
                c.live.writer.close()
            c.live.writer = None
            c.live.subscribers.link(None)
            c.live.stdin.linked(None)
            c.live.linked = asyncio.Event()
            if c.live.started is not None and not c.live.started.done():
                c.live.started.set_result({"event": "error", "message": "monitor went away"})
        if exit_result is None:
            if not c.running:
                return
            # The link ended without an exit: the monitor (its host process) died.
            # Its container must not run on unwatched: the runtime kills what is
            # left and forgets it, as containerd does when a shim dies.
            await asyncio.sleep(0.05)
            await self._exited_while_away(c)
            return
        await self._on_exit(c, exit_result)

    def _mark_running(self, c: Container, msg: dict[str, Any]) -> None:
        if c.running and c.state.get("Pid") == msg.get("pid"):
            return  # a repeated "started" (a reconnecting client asked again)
        c.live.started_mono = time.monotonic()
        c.state.update(
            Status="running",
            Running=True,
            Restarting=False,
            Pid=msg.get("pid", 0),
            ExitCode=0,
            OOMKilled=False,
            Error="",
            StartedAt=jsonlog.rfc3339_nano(),
            FinishedAt=ZERO_TIME,
        )
        self._save(c)
        self.events.publish("container", "start", c.id, self._attrs(c))

    async def _on_exit(self, c: Container, result: dict[str, Any]) -> None:
        code = int(result.get("exit_code", 255))
        await asyncio.to_thread(shared_ns.release_shm, self.paths.shm(c.id))
        try:
            await self.network.detach(c)
        except Exception:
            log.exception("network detach of %s failed", c.id[:12])
        c.state.update(
            Status="exited",
            Running=False,
            Paused=False,
            Pid=0,
            ExitCode=code,
            OOMKilled=bool(result.get("oom_killed")),
            FinishedAt=result.get("finished_at") or jsonlog.rfc3339_nano(),
        )
        self._save(c)
        if c.state["OOMKilled"]:  # dockerd: the oom event, then die
            self.events.publish("container", "oom", c.id, self._attrs(c))
        self.events.publish("container", "die", c.id, self._attrs(c, exitCode=str(code)))
        for q in c.live.subscribers:
            q.put_nowait(None)
        c.live.output.set()
        c.live.exited.set()
        waiters, c.live.waiters = c.live.waiters, []
        for condition, fut in waiters:
            if condition == "removed":
                c.live.waiters.append((condition, fut))
            elif not fut.done():
                fut.set_result({"StatusCode": code, "Error": None})
        if c.live.health_task is not None:
            c.live.health_task.cancel()
            c.live.health_task = None
        if self._should_restart(c, code):
            self._schedule_restart(c)
            return
        if c.host_config.get("AutoRemove") and not c.live.removing:
            try:
                await self.remove(c.id, force=False, volumes=True)
            except DockyardError as exc:
                log.warning("auto-remove of %s failed: %s", c.id[:12], exc.message)

    # ---- restart policy ------------------------------------------------------------
    def _should_restart(self, c: Container, code: int) -> bool:
        if c.manually_stopped or c.live.removing or self.closing or c.id not in self.containers:
            return False
        name, max_retries = restart_policy(c.host_config)
        if name in ("always", "unless-stopped"):
            return True
        if name == "on-failure":
            return code != 0 and (max_retries == 0 or c.restart_count < max_retries)
        return False

    def _schedule_restart(self, c: Container) -> None:
        # moby's restart manager: 100 ms doubling to a minute; reset after a run of 10 s.
        ran = time.monotonic() - c.live.started_mono
        if ran >= 10 or c.live.backoff == 0:
            c.live.backoff = 0.1
        elif c.live.backoff < 60:
            c.live.backoff = min(c.live.backoff * 2, 60)
        c.state.update(Status="restarting", Restarting=True)
        self._save(c)
        c.live.restart_task = self._background(self._restart_later(c, c.live.backoff))

    async def _restart_later(self, c: Container, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            return
        c.live.restart_task = None
        try:
            async with c.live.lock:
                if c.id not in self.containers or c.manually_stopped or c.running:
                    return
                c.restart_count += 1
                await self._start(c)
            if c.manually_stopped:  # stopped while it was starting
                await self._stop(c, None)
                return
            self._start_health(c)
        except DockyardError as exc:
            log.warning("restart of %s failed: %s", c.id[:12], exc.message)
            c.state.update(Restarting=False, Status="exited", Error=exc.message)
            self._save(c)
            return
        self.events.publish("container", "restart", c.id, self._attrs(c))

    def _cancel_restart(self, c: Container) -> None:
        task, c.live.restart_task = c.live.restart_task, None
        if task is not None:
            task.cancel()

    # ---- health checks ---------------------------------------------------------------
    def _start_health(self, c: Container) -> None:
        check = health_config(c.config)
        if check is None:
            c.state.pop("Health", None)
            return
        c.state["Health"] = {"Status": "starting", "FailingStreak": 0, "Log": []}
        self._save(c)
        if c.live.health_task is not None:
            c.live.health_task.cancel()
        c.live.health_task = asyncio.create_task(self._health_loop(c, check))

    async def _health_loop(self, c: Container, check: HealthCheck) -> None:
        started = time.monotonic()
        while c.running and c.id in self.containers:
            in_start_period = time.monotonic() - started < check.start_period
            await asyncio.sleep(check.start_interval if in_start_period else check.interval)
            if not c.running:
                return
            probe = await self._probe(c, check)
            health = c.state.setdefault("Health", {"Status": "starting", "FailingStreak": 0})
            log_ = health.setdefault("Log", [])
            log_.append(probe)
            del log_[:-5]
            old = health["Status"]
            if probe["ExitCode"] == 0:
                health["FailingStreak"] = 0
                health["Status"] = "healthy"
            elif not in_start_period or old != "starting":
                health["FailingStreak"] = health.get("FailingStreak", 0) + 1
                if health["FailingStreak"] >= check.retries:
                    health["Status"] = "unhealthy"
            self._save(c)
            if health["Status"] != old:
                self.events.publish(
                    "container", f"health_status: {health['Status']}", c.id, self._attrs(c)
                )

    async def _probe(self, c: Container, check: HealthCheck) -> dict[str, Any]:
        """One run of the check inside the container, through the runtime's `exec`."""
        start = jsonlog.rfc3339_nano()
        try:
            with open(os.path.join(self.paths.bundle(c.id), "config.json")) as f:
                process = json.load(f)["process"]
        except (OSError, json.JSONDecodeError, KeyError) as exc:
            return {"Start": start, "End": start, "ExitCode": -1, "Output": str(exc)}
        process = dict(process, args=check.args, terminal=False)
        pfile = os.path.join(self.paths.bundle(c.id), f"health-{secrets.token_hex(4)}.json")
        write_json_atomic(pfile, process, durable=False)
        proc = await asyncio.create_subprocess_exec(
            *self.runtime_of(c.host_config).argv, "exec", "--process", pfile, c.id,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), check.timeout)
            code = proc.returncode if proc.returncode is not None else -1
            output = out[:4096].decode("utf-8", "replace")
        except TimeoutError:
            proc.kill()
            await proc.wait()
            code = -1
            output = f"Health check exceeded timeout ({check.timeout:g}s)"
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(pfile)
        return {"Start": start, "End": jsonlog.rfc3339_nano(), "ExitCode": code, "Output": output}

    # ---- wait, stop, kill ------------------------------------------------------------
    async def wait(self, ref: str, condition: str = "not-running") -> dict[str, Any]:
        c = self.get(ref)
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidParameter(f"invalid condition: {condition!r}")
        if condition == "not-running" and not c.running:
            return {"StatusCode": c.state.get("ExitCode", 0), "Error": None}
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        c.live.waiters.append((condition, fut))
        return await fut

    async def kill(self, ref: str, sig: str | int | None = None) -> None:
        c = self.get(ref)
        signum = parse_signal(sig, signal.SIGKILL)
        if not c.running:
            raise Conflict(f"Cannot kill container: {ref}: Container {c.id} is not running")
        c.manually_stopped = True
        self._save(c)
        self._send(c, {"op": "kill", "signal": signum})
        self.events.publish("container", "kill", c.id, self._attrs(c, signal=str(signum)))
        if signum == signal.SIGKILL:
            await c.live.exited.wait()

    async def stop(self, ref: str, timeout: int | None = None, sig: str | None = None) -> None:
        c = self.get(ref)
        # Marked first: a restart in flight checks the mark when it is done.
        c.manually_stopped = True
        if c.live.restart_task is not None:
            self._cancel_restart(c)
            c.state.update(Restarting=False, Status="exited")
            self._save(c)
            return
        self._save(c)
        if c.live.lock.locked():
            # A start in flight (a restart policy's): let it finish, then stop
            # what it started, so that the container is down when we answer.
            async with c.live.lock:
                pass
        if not c.running:
            raise NotModified("container already stopped")
        await self._stop(c, timeout, sig)

    async def _stop(self, c: Container, timeout: int | None, sig: str | None = None) -> None:
        signum = parse_signal(sig or c.config.get("StopSignal"), signal.SIGTERM)
        if timeout is None:
            timeout = c.config.get("StopTimeout")
        if timeout is None:
            timeout = 10
        exited = c.live.exited
        self._send(c, {"op": "kill", "signal": signum})
        if timeout >= 0:
            try:
                await asyncio.wait_for(exited.wait(), timeout)
            except TimeoutError:
                pass
            else:
                self.events.publish("container", "stop", c.id, self._attrs(c))
                return
        self._send(c, {"op": "kill", "signal": int(signal.SIGKILL)})
        self.events.publish("container", "kill", c.id, self._attrs(c, signal="9"))
        await exited.wait()
        self.events.publish("container", "stop", c.id, self._attrs(c))

    async def restart(self, ref: str, timeout: int | None = None) -> None:
        c = self.get(ref)
        if c.running:
            await self._stop(c, timeout)
        await self.start(c.id)
        self.events.publish("container", "restart", c.id, self._attrs(c))

    async def update(self, ref: str, body: dict[str, Any]) -> list[str]:
        """`docker update`: the restart policy, and resources — applied to a running
        container's cgroups through the runtime's `update`, as dockerd does."""
        c = self.get(ref)
        if not isinstance(body, dict):
            raise InvalidParameter("invalid update body")
        warnings: list[str] = []
        policy = body.pop("RestartPolicy", None)
        # The CLI sends {"Name": ""} when --restart is not given: keep the policy (dockerd)
        if policy and policy.get("Name"):
            if c.host_config.get("AutoRemove") and policy.get("Name") not in ("", "no"):
                raise InvalidParameter(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container"
                )
            c.host_config["RestartPolicy"] = {
                "Name": policy.get("Name") or "no",
                "MaximumRetryCount": int(policy.get("MaximumRetryCount") or 0),
            }
        warnings += hostcheck.discard_unsupported(body)
        changed = {k: v for k, v in body.items() if v not in (None, 0, "", [], {})}
        if changed:
            merged = {**c.host_config, **changed}
            ocispec.validate_host_config(merged)
            if c.running:
                await self._runtime_update(c, ocispec.resources(merged))
            c.host_config = merged
        self._save(c)
        self.events.publish("container", "update", c.id, self._attrs(c))
        return warnings

    async def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        """`docker container prune`: every stopped container, filtered by `until` and `label`."""
        until = filters.get("until", [])
        cutoff = min((unix_time(u) for u in until), default=None)
        deleted: list[str] = []
        reclaimed = 0
        for c in list(self.containers.values()):
            too_new = cutoff is not None and jsonlog.parse_rfc3339_nano(c.created) / 1e9 >= cutoff
            if c.running or c.live.restart_task is not None or too_new:
                continue
            if not labels_match(c.config.get("Labels") or {}, filters):
                continue
            size = await asyncio.to_thread(rw_size, self.images.snapshotter, c.id)
            await self.remove(c.id)
            deleted.append(c.id)
            reclaimed += size
        self.events.publish("container", "prune", "", {"reclaimed": str(reclaimed)})
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # ---- remove ------------------------------------------------------------------------
    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        c = self.get(ref)
        if c.live.restart_task is not None:
            if not force:
                raise Conflict(
                    f"You cannot remove a restarting container {c.id}. Stop the container "
                    "before attempting removal or force remove"
                )
            self._cancel_restart(c)
        if c.running:
            if not force:
                raise Conflict(
                    f"You cannot remove a running container {c.id}. Stop the container "
                    "before attempting removal or force remove"
                )
            if c.live.removing:
                raise Conflict(f"removal of container {c.id} is already in progress")
            c.live.removing = True
            self._send(c, {"op": "kill", "signal": int(signal.SIGKILL)})
            await c.live.exited.wait()
            if c.id not in self.containers:
                return
        elif c.live.removing and c.id not in self.containers:
            return
        c.live.removing = True
        task = c.live.reader_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            try:
                await asyncio.wait_for(asyncio.shield(task), 5)
            except TimeoutError:
                pass
        await asyncio.to_thread(self._unmount_container, c.id)
        try:
            await asyncio.to_thread(self.images.snapshotter.remove, c.id)
        except NotFound:
            pass
        await self.volumes.release(c, remove_anonymous=volumes)
        await asyncio.to_thread(self._remove_cgroups, c.id)
        await asyncio.to_thread(self._remove_files, c.id)
        self.containers.pop(c.id, None)
        if self.by_name.get(c.name) == c.id:
            del self.by_name[c.name]
        self.events.publish("container", "destroy", c.id, self._attrs(c))
        for _, fut in c.live.waiters:
            if not fut.done():
                fut.set_result({"StatusCode": c.state.get("ExitCode", 0), "Error": None})
        c.live.waiters = []

    def _unmount_container(self, cid: str) -> None:
        """Its rootfs (if mounted) and a shareable container's /dev/shm."""
        if os.path.ismount(self.paths.rootfs(cid)):
            self._unmount(self.paths.rootfs(cid))
        shared_ns.release_shm(self.paths.shm(cid))

    def _remove_cgroups(self, cid: str) -> None:
        """The runtime removes the container's cgroups on delete, but gives up if tasks
        are slow to leave (a loaded machine); the path is ours (`/dockyard/<id>`), so
        removal retries here. rmdir only ever removes an empty cgroup."""
        roots = ["/sys/fs/cgroup"] + [e.path for e in os.scandir("/sys/fs/cgroup") if e.is_dir()]
        for root in roots:
            path = os.path.join(root, "dockyard", cid)
            for _ in range(50):
                try:
                    os.rmdir(path)
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
                else:
                    break

    def _remove_files(self, cid: str) -> None:
        shutil.rmtree(self.paths.container_dir(cid), ignore_errors=True)
        shutil.rmtree(self.paths.bundle(cid), ignore_errors=True)

    # ---- attach and logs ----------------------------------------------------------------
    def subscribe(self, c: Container) -> Subscription:
        return c.live.subscribers.subscribe()

    def unsubscribe(self, c: Container, q: Subscription) -> None:
        c.live.subscribers.unsubscribe(q)

    async def close_stdin(self, c: Container) -> None:
        await c.live.stdin.close_stdin()  # after the input it ends

    async def logs(
        self,
        ref: str,
        *,
        stdout: bool,
        stderr: bool,
        follow: bool = False,
        since: float = 0,
        until: float = 0,
        timestamps: bool = False,
        tail: int | None = None,
    ) -> AsyncIterator[tuple[int, bytes]]:
        c = self.get(ref)
        if (c.host_config.get("LogConfig") or {}).get("Type") == "none":
            raise InvalidParameter("configured logging driver does not support reading")
        query = LogQuery(
            stdout, stderr, int(since * 1e9), int(until * 1e9) if until else 0, timestamps, tail
        )
        follower = Follow(
            lambda: c.live.output,
            lambda: c.running and c.id in self.containers and not self.closing,
            c.live.subscribers.following,  # the monitor says when output comes
        )
        async for out in read_log(self.paths.log(c.id), query, follower if follow else None):
            yield out

    # ---- views ---------------------------------------------------------------------------
    def list(self, all: bool = False, limit: int | None = None) -> list[Container]:
        items = sorted(self.containers.values(), key=lambda c: c.created, reverse=True)
        if not all and not limit:
            items = [c for c in items if c.running]
        if limit and limit > 0:
            items = items[:limit]
        return items

    async def shutdown(self) -> None:
        """Let go of every container without stopping it (live restore): end
        attach streams and waits, close the monitor links."""
        self.closing = True
        for c in self.containers.values():
            for q in c.live.subscribers:
                q.put_nowait(None)
            for _, fut in c.live.waiters:
                if not fut.done():
                    fut.cancel()
            c.live.waiters = []
            task = c.live.reader_task
            if task is not None and not task.done():
                task.cancel()
        tasks = [c.live.reader_task for c in self.containers.values() if c.live.reader_task]
        await asyncio.gather(*tasks, return_exceptions=True)


def restart_policy(host_config: dict[str, Any]) -> tuple[str, int]:
    rp = host_config.get("RestartPolicy") or {}
    return (rp.get("Name") or "no"), int(rp.get("MaximumRetryCount") or 0)


@dataclass(frozen=True)
class HealthCheck:
    args: list[str]
    interval: float
    timeout: float
    start_period: float
    start_interval: float
    retries: int


def health_config(config: dict[str, Any]) -> HealthCheck | None:
    """The container's health check (image and flags merged), or None when there is none."""
    hc = config.get("Healthcheck") or {}
    test = hc.get("Test") or []
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        args = list(test[1:])
    elif test[0] == "CMD-SHELL":
        args = ["/bin/sh", "-c", " ".join(test[1:])]
    else:
        args = list(test)
    if not args:
        return None

    def secs(key: str, default: float) -> float:
        value = hc.get(key) or 0
        return value / 1e9 if value else default

    return HealthCheck(
        args=args,
        interval=secs("Interval", 30.0),
        timeout=secs("Timeout", 30.0),
        start_period=secs("StartPeriod", 0.0),
        start_interval=secs("StartInterval", 5.0),
        retries=int(hc.get("Retries") or 3),
    )


def status_text(state: dict[str, Any], now: float | None = None) -> str:
    now = time.time() if now is None else now
    status = state.get("Status")
    if state.get("Running"):
        started = jsonlog.parse_rfc3339_nano(state["StartedAt"]) / 1e9
        text = "Up " + human_duration(now - started)
        if state.get("Paused"):
            return text + " (Paused)"
        health = (state.get("Health") or {}).get("Status")
        if health == "starting":
            return text + " (health: starting)"
        if health in ("healthy", "unhealthy"):
            return f"{text} ({health})"
        return text
    if state.get("Restarting"):
        finished = jsonlog.parse_rfc3339_nano(state["FinishedAt"]) / 1e9
        return f"Restarting ({state.get('ExitCode', 0)}) {human_duration(now - finished)} ago"
    if status == "exited" or (status == "created" and state.get("FinishedAt") != ZERO_TIME):
        if state.get("FinishedAt", ZERO_TIME) == ZERO_TIME:
            return "Created"
        finished = jsonlog.parse_rfc3339_nano(state["FinishedAt"]) / 1e9
        return f"Exited ({state.get('ExitCode', 0)}) {human_duration(now - finished)} ago"
    if status == "dead":
        return "Dead"
    return "Created"
