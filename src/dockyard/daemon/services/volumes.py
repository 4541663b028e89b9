"""The volume service: Docker's volumes (local driver) and the container service's
VolumeMounter.

A container's mounts are resolved once, at create (anonymous volumes get their
names then, binds given with --mount must exist), and kept in its directory
(mounts.json), so restarts reuse the same volumes and `rm -v` knows which are
anonymous. At each start they become OCI mounts; a new, empty volume is first
filled with the image's content at its destination (copy-up, unless nocopy),
read through a directory opened inside the rootfs (openat2 RESOLVE_IN_ROOT).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
from typing import Any

from dockyard.api.errors import Conflict, InvalidParameter, NotFound
from dockyard.api.filters import labels_match, match
from dockyard.daemon.paths import DaemonPaths
from dockyard.daemon.services.container_model import Container
from dockyard.daemon.services.events import EventBus
from dockyard.rootpath import openat_in_root
from dockyard.volume import mountspec
from dockyard.volume.local import LocalDriver, Volume
from dockyard.volume.mountspec import MountPoint

ANON_LABEL = "com.docker.volume.anonymous"


class VolumeService:
    def __init__(self, paths: DaemonPaths, events: EventBus) -> None:
        self.paths = paths
        self.events = events
        self.driver = LocalDriver(paths.volumes_root)
        self.volumes: dict[str, Volume] = {v.name: v for v in self.driver.load()}
        self.containers: Any = None  # the ContainerService, for in-use checks
        self.mounted: dict[str, set[str]] = {}  # volume -> running container ids
        self._watch: asyncio.Task[None] | None = None
        # Each container's mount points, as kept in its mounts.json (read once: `ps`
        # and inspect ask for every container on each call).
        self._cache: dict[str, list[MountPoint]] = {}

    # ---- API backend ------------------------------------------------------------------
    def get(self, name: str) -> Volume:
        v = self.volumes.get(name)
        if v is None:
            raise NotFound(f"get {name}: no such volume")
        return v

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("Name") or ""
        driver = body.get("Driver") or "local"
        if driver != "local":
            raise NotFound(f'error looking up volume plugin {driver}: plugin "{driver}" not found')
        if name and name in self.volumes:
            return self.inspect(name)
        if name and not mountspec.VOLUME_NAME.match(name):
            raise InvalidParameter(
                f'create {name}: "{name}" includes invalid characters for a local volume name, '
                'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
                "directory, use absolute path"
            )
        labels = dict(body.get("Labels") or {})
        v = self._create(name, dict(body.get("DriverOpts") or {}), labels, anonymous=not name)
        return self.inspect(v.name)

    def _create(
        self, name: str, opts: dict[str, str], labels: dict[str, str], anonymous: bool
    ) -> Volume:
        if anonymous:
            name = name or secrets.token_hex(32)
            labels = {ANON_LABEL: "", **labels}
        v = self.driver.create(name, opts, labels, anonymous)
        self.volumes[name] = v
        self.events.publish("volume", "create", name, {"driver": "local"})
        return v

    def users(self, name: str) -> list[str]:
        out = []
        for c in list(self.containers.containers.values()) if self.containers else []:
            if any(mp.type == "volume" and mp.source == name for mp in self._points(c.id)):
                out.append(c.id)
        return out

    def inspect(self, name: str) -> dict[str, Any]:
        return self.driver.view(self.get(name))

    def list(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        out = [self.driver.view(v) for v in self.volumes.values() if self._match(v, filters)]
        return {"Volumes": out, "Warnings": None}  # dockerd: a nil list

    def _match(self, v: Volume, filters: dict[str, list[str]]) -> bool:
        for key, values in filters.items():
            if key == "name" and not match(values, v.name):
                return False
            if key == "driver" and "local" not in values:
                return False
            if key == "dangling":
                want = values[0] in ("true", "1")
                if want == bool(self.users(v.name)):
                    return False
            if key == "label" and not labels_match(v.labels, filters):
                return False
        return True

    def remove(self, name: str, force: bool = False) -> None:
        v = self.volumes.get(name)
        if v is None:
            if force:
                return
            raise NotFound(f"get {name}: no such volume")
        users = self.users(name)
        if users:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        self.driver.remove(v)
        self.volumes.pop(name, None)
        self.events.publish("volume", "destroy", name, {"driver": "local"})

    def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        """Unused anonymous volumes; with all=true, unused named ones as well (Docker 23+)."""
        every = (filters.pop("all", ["false"]) or ["false"])[0] in ("true", "1")
        gone, space = [], 0
        for v in list(self.volumes.values()):
            if not every and not v.anonymous:
                continue
            if self.users(v.name) or not self._match(v, filters):
                continue
            space += self.driver.size(v)
            self.remove(v.name)
            gone.append(v.name)
        return {"VolumesDeleted": gone, "SpaceReclaimed": space}

    # ---- the container seam -------------------------------------------------------------
    def _points_file(self, cid: str) -> str:
        return self.paths.etc_file(cid, "mounts.json")

    def _points(self, cid: str) -> list[MountPoint]:
        points = self._cache.get(cid)
        if points is None:
            try:
                with open(self._points_file(cid)) as f:
                    points = [MountPoint.from_json(d) for d in json.load(f)]
            except (FileNotFoundError, json.JSONDecodeError):
                return []
            self._cache[cid] = points
        return points

    def validate(self, c: Container) -> None:
        """At create: parse every mount, check --mount binds, name anonymous volumes,
        take --volumes-from, create missing named volumes; keep them with the container."""
        points = mountspec.parse_all(c.config, c.host_config)
        taken = {mp.destination for mp in points}
        for ref in c.host_config.get("VolumesFrom") or []:
            name, _, mode = ref.partition(":")
            other = self.containers.get(name)
            for mp in self._points(other.id):
                if mp.destination in taken:
                    continue
                copy = MountPoint.from_json(mp.to_json())
                if mode in ("ro", "rw"):
                    copy.rw = mode == "rw"
                copy.anonymous = False  # belongs to the other container
                points.append(copy)
                taken.add(mp.destination)
        for mp in points:
            if mp.type == "bind" and not mp.create_source and not os.path.exists(mp.source):
                raise InvalidParameter(
                    f'invalid mount config for type "bind": bind source path does not exist: '
                    f"{mp.source}"
                )
            if mp.type == "volume":
                if mp.anonymous and not mp.source:
                    mp.source = secrets.token_hex(32)
                if mp.source not in self.volumes:
                    self._create(mp.source, mp.driver_opts, mp.labels, mp.anonymous)
        with open(self._points_file(c.id), "w") as f:
            json.dump([mp.to_json() for mp in points], f)
        self._cache[c.id] = points

    def _watch_exits(self) -> None:
        """Started with the first mount: on a container's `die` event, a volume mounted by
        the driver (tmpfs, bind device) that no running container uses is unmounted."""
        if self._watch is None:
            q = self.events.subscribe()
            self._watch = asyncio.ensure_future(self._on_exits(q))

    async def _on_exits(self, q: asyncio.Queue[Any]) -> None:
        while True:
            ev = await q.get()
            if ev.type != "container" or ev.action != "die":
                continue
            for name, users in list(self.mounted.items()):
                if ev.actor_id in users:
                    users.discard(ev.actor_id)
                    v = self.volumes.get(name)
                    if not users and v is not None and self.driver.needs_mount(v):
                        try:
                            await asyncio.to_thread(self.driver.unmount, v)
                        except OSError:
                            pass

    async def mounts(self, c: Container, rootfs: str) -> list[dict[str, Any]]:
        self._watch_exits()
        out = []
        for mp in self._points(c.id):
            if mp.type == "tmpfs":
                out.append({
                    "destination": mp.destination, "type": "tmpfs", "source": "tmpfs",
                    "options": mountspec.oci_options(mp),
                })  # fmt: skip
                continue
            if mp.type == "bind":
                if not os.path.exists(mp.source):
                    if not mp.create_source:
                        raise InvalidParameter(
                            f'invalid mount config for type "bind": bind source path does not '
                            f"exist: {mp.source}"
                        )
                    os.makedirs(mp.source, mode=0o755, exist_ok=True)
                source = mp.source
            else:
                v = self.volumes.get(mp.source)
                if v is None:
                    v = self._create(mp.source, {}, {}, mp.anonymous)
                await asyncio.to_thread(self.driver.mount, v)
                self.mounted.setdefault(v.name, set()).add(c.id)
                if not mp.nocopy:
                    await asyncio.to_thread(_copy_up, rootfs, mp.destination, v)
                source = v.data
            out.append({
                "destination": mp.destination, "type": "bind", "source": source,
                "options": mountspec.oci_options(mp),
            })  # fmt: skip
        return out

    async def release(self, c: Container, remove_anonymous: bool) -> None:
        points = self._points(c.id)
        self._cache.pop(c.id, None)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._points_file(c.id))
        for mp in points:
            if mp.type != "volume":
                continue
            users = self.mounted.get(mp.source, set())
            users.discard(c.id)
            v = self.volumes.get(mp.source)
            if v is not None and not users:
                await asyncio.to_thread(self.driver.unmount, v)
            if remove_anonymous and mp.anonymous and v is not None and not self.users(v.name):
                self.remove(v.name)

    def mount_points(self, c: Container) -> list[dict[str, Any]]:
        """Container inspect's Mounts."""
        out = []
        for mp in self._points(c.id):
            entry: dict[str, Any] = {"Type": mp.type}
            if mp.type == "volume":
                v = self.volumes.get(mp.source)
                entry.update(Name=mp.source, Source=v.data if v else "", Driver="local")
            else:
                entry["Source"] = mp.source
            entry.update(
                Destination=mp.destination,
                Mode=mp.mode if mp.type != "tmpfs" else "",
                RW=mp.rw,
                Propagation=(mp.propagation or "rprivate") if mp.type == "bind" else "",
            )
            out.append(entry)
        return out


def _copy_up(rootfs: str, destination: str, v: Volume) -> None:
    """Fill an empty volume with what the image has at `destination` (resolved inside
    the rootfs, no link escapes), keeping owners and modes (Docker's copy-up)."""
    if os.listdir(v.data):
        return
    marker = os.path.join(v.path, ".copied")
    if os.path.exists(marker):
        return
    root_fd = os.open(rootfs, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fd = openat_in_root(root_fd, destination, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
    finally:
        os.close(root_fd)
    try:
        src = f"/proc/self/fd/{fd}"
        st = os.fstat(fd)
        for entry in os.listdir(src):
            s = os.path.join(src, entry)
            d = os.path.join(v.data, entry)
            if os.path.isdir(s) and not os.path.islink(s):
                shutil.copytree(s, d, symlinks=True, copy_function=shutil.copy2)
            else:
                shutil.copy2(s, d, follow_symlinks=False)
        os.chown(v.data, st.st_uid, st.st_gid)
        os.chmod(v.data, st.st_mode & 0o7777)
    finally:
        os.close(fd)
    with open(marker, "w"):
        pass
