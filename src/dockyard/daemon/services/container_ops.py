"""Operations on one container beyond its life cycle: pause/unpause (the
runtime's freezer), rename, TTY resize, top, stats, changes, export and the
archive (cp) endpoints' root handling.

It sits beside the container service and uses its records, monitor links and
events; the life cycle stays in `containers.py`. Stats are read straight from
the container's cgroup v1 controllers (`/sys/fs/cgroup/<ctrl>/dockyard/<id>`,
where the runtime puts it) and /proc/<pid>/net/dev (the container's netns);
`stats.py` shapes them into Docker's JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import Any

from dockyard.api.errors import Conflict, InvalidParameter, NotFound, SystemError_
from dockyard.daemon.services import archive, cpmounts, names
from dockyard.daemon.services.container_model import Container
from dockyard.daemon.services.containers import ContainerService
from dockyard.monitor import jsonlog
from dockyard.proto.image import ZERO_TIME


class ContainerOps:
    def __init__(self, containers: ContainerService) -> None:
        self.svc = containers

    # ---- runtime helpers ----------------------------------------------------------
    async def _runtime(self, c: Container, *args: str) -> str:
        return await self.svc.task_runtime.run(self.svc.runtime_of(c.host_config), *args)

    def get(self, ref: str) -> Container:
        return self.svc.get(ref)

    def alive(self, c: Container) -> bool:
        """Still there to be watched (not removed, the daemon not shutting down)."""
        return not self.svc.closing and c.id in self.svc.containers

    def _running(self, ref: str) -> Container:
        c = self.svc.get(ref)
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        return c

    # ---- pause ------------------------------------------------------------------------
    async def pause(self, ref: str) -> None:
        c = self._running(ref)
        if c.state.get("Paused"):
            raise Conflict(f"Container {c.id} is already paused")
        await self._runtime(c, "pause", c.id)
        c.state.update(Paused=True, Status="paused")
        self.svc.save(c)
        self.svc.publish(c, "pause")

    async def unpause(self, ref: str) -> None:
        c = self._running(ref)
        if not c.state.get("Paused"):
            raise Conflict(f"Container {c.id} is not paused")
        await self._runtime(c, "resume", c.id)
        c.state.update(Paused=False, Status="running")
        self.svc.save(c)
        self.svc.publish(c, "unpause")

    @contextlib.asynccontextmanager
    async def frozen(self, c: Container) -> AsyncIterator[None]:
        """Freeze a running container for the time of a copy (if not paused already)."""
        thaw = c.running and not c.state.get("Paused")
        if thaw:
            try:
                await self._runtime(c, "pause", c.id)
            except SystemError_:
                thaw = False
        try:
            yield
        finally:
            if thaw and c.running:
                with contextlib.suppress(SystemError_):
                    await self._runtime(c, "resume", c.id)

    # ---- rename, resize ---------------------------------------------------------------------
    def rename(self, ref: str, new_name: str) -> None:
        c = self.svc.get(ref)
        if not new_name:
            raise InvalidParameter("Neither old nor new names may be empty")
        canonical = names.validate(new_name)
        old = c.name
        if canonical == old:
            raise InvalidParameter("Renaming a container with the same name as its current name")
        self.svc.records.check_name_free(canonical, "Error when allocating new name: ")
        self.svc.records.rename(c, canonical)
        self.svc.save(c)
        self.svc.publish(c, "rename", oldName=old)

    def resize(self, ref: str, h: int, w: int) -> None:
        c = self._running(ref)
        if h < 0 or w < 0:
            raise InvalidParameter("invalid resize dimensions")
        self.svc.send(c, {"op": "resize", "h": h, "w": w})

    # ---- top --------------------------------------------------------------------------------
    async def top(self, ref: str, ps_args: str) -> dict[str, Any]:
        c = self._running(ref)
        pids = _cgroup_pids(c.id)
        args = ps_args.split() if ps_args else ["-ef"]
        proc = await asyncio.create_subprocess_exec(
            "ps",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise SystemError_(f"ps: {err.decode(errors='replace').strip()}")
        return parse_ps(out.decode(errors="replace"), pids)

    # ---- changes, export ----------------------------------------------------------------
    def changes(self, ref: str) -> list[dict[str, Any]]:
        c = self.svc.get(ref)
        mounts = self.svc.images.snapshotter.mounts(c.id)
        upper, lowers = _overlay_dirs(mounts)
        return list(walk_changes(upper, lowers))

    @contextlib.asynccontextmanager
    async def root(self, c: Container, live_view: bool = True) -> AsyncIterator[str]:
        """The container's root filesystem: a running container's as it sees it
        (with its mounts; `live_view=False`: the rootfs alone), else its
        snapshot mounted on a private temp dir meanwhile, its volumes and binds
        over it (as dockerd mounts them for a copy)."""
        if c.running and not live_view:  # the filesystem alone (export)
            yield self.svc.paths.rootfs(c.id)
            return
        if c.running:
            # The container's own view (its /etc/hosts... binds and volumes are
            # mounts in its namespace, invisible in the host's view of rootfs).
            pid = int(c.state.get("Pid") or 0)
            root = f"/proc/{pid}/root"
            if not pid or not os.path.isdir(root):
                raise Conflict(f"Container {c.id} is not running")
            yield root
            return
        mounts = self.svc.images.snapshotter.mounts(c.id)
        target = tempfile.mkdtemp(prefix=f"cp-{c.id[:12]}-", dir=self.svc.paths.exec_root)
        try:
            await asyncio.to_thread(self.svc.mount_all, mounts, target)
            try:
                done = await asyncio.to_thread(cpmounts.mount_points, target, self.points(c))
                try:
                    yield target
                finally:
                    await asyncio.to_thread(cpmounts.unmount_points, done)
            finally:
                await asyncio.to_thread(self.svc.unmount, target)
        finally:
            with contextlib.suppress(OSError):
                os.rmdir(target)

    def points(self, c: Container) -> list[dict[str, Any]]:
        """The container's volumes and mounts (inspect's Mounts)."""
        return self.svc.volumes.mount_points(c)

    def export_event(self, c: Container) -> None:
        self.svc.publish(c, "export")

    async def export(self, ref: str) -> AsyncIterator[bytes]:
        """`docker export`: the container's filesystem as a tar stream (GNU tar)."""
        c = self.svc.get(ref)
        async with self.root(c, live_view=False) as root:
            proc = await asyncio.create_subprocess_exec(
                *export_command(root), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            assert proc.stdout is not None
            try:
                while chunk := await proc.stdout.read(1 << 16):
                    yield chunk
            finally:
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                await proc.wait()
        self.export_event(c)

    # ---- stats --------------------------------------------------------------------------
    async def stats_sample(self, c: Container) -> tuple[dict[str, Any] | None, str]:
        """One sample of a running container's counters and when it was read (in a
        thread: it reads a dozen cgroup files); (None, zero time) when it is not running."""
        if not c.running:
            return None, ZERO_TIME
        sample = await asyncio.to_thread(
            self.svc.task_runtime.stats, c.id, int(c.state.get("Pid") or 0)
        )
        return sample, jsonlog.rfc3339_nano()

    # ---- archive (docker cp) ------------------------------------------------------------
    @contextlib.contextmanager
    def _named(self, ref: str) -> Iterator[None]:
        """Docker's wording: the container as the client named it."""
        try:
            yield
        except archive.PathNotFound as exc:
            raise NotFound(f"Could not find the file {exc.path} in container {ref}") from None

    async def archive_stat(self, ref: str, path: str) -> str:
        """HEAD /containers/{id}/archive: the path's stat header."""
        c = self.svc.get(ref)
        path = _archive_path(path)
        with self._named(ref):
            async with self.root(c) as root:
                return await asyncio.to_thread(archive.stat_path, root, path)

    @contextlib.asynccontextmanager
    async def archive_read(
        self, ref: str, path: str
    ) -> AsyncIterator[tuple[str, AsyncIterator[bytes]]]:
        """GET /containers/{id}/archive: the stat header and the tar's chunks, read in a
        thread while the container is frozen."""
        c = self.svc.get(ref)
        with self._named(ref):
            async with self.root(c) as root, self.frozen(c):
                header, chunks = await asyncio.to_thread(
                    archive.tar_path, root, _archive_path(path)
                )
                yield header, _in_thread(chunks)
        self.svc.publish(c, "archive-path")

    async def archive_write(
        self, ref: str, path: str, body: AsyncIterator[bytes], no_overwrite: bool
    ) -> None:
        """PUT /containers/{id}/archive: extract a tar at the path (not onto a read-only
        mount or rootfs). The target is checked before the body is read, as dockerd
        does: a refused upload is answered at once, not after the client sent it all.
        The container is frozen for the extraction only, not while the body arrives."""
        c = self.svc.get(ref)
        path = _archive_path(path)
        with self._named(ref):
            async with self.root(c) as root:
                await asyncio.to_thread(archive.check_extract_point, root, path)
                cpmounts.check_writable(
                    self.points(c), path, bool(c.host_config.get("ReadonlyRootfs"))
                )
                with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
                    async for chunk in body:
                        spool.write(chunk)
                    spool.seek(0)
                    async with self.frozen(c):
                        await asyncio.to_thread(archive.extract, root, path, spool, no_overwrite)
        self.svc.publish(c, "extract-to-dir")


def _archive_path(path: str) -> str:
    if not path:
        raise InvalidParameter("bad parameter: path cannot be empty")
    return path


async def _in_thread(it: Iterator[bytes]) -> AsyncIterator[bytes]:
    """A blocking byte iterator run in a thread; chunks come through a bounded queue."""
    loop = asyncio.get_running_loop()
    q: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(maxsize=8)

    def run() -> None:
        try:
            for chunk in it:
                if chunk:
                    asyncio.run_coroutine_threadsafe(q.put(chunk), loop).result()
            asyncio.run_coroutine_threadsafe(q.put(None), loop).result()
        except BaseException as exc:  # handed to the request task
            asyncio.run_coroutine_threadsafe(q.put(exc), loop).result()

    loop.run_in_executor(None, run)
    while (item := await q.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        yield item


def _cgroup_pids(cid: str) -> set[int]:
    for ctrl in ("pids", "memory", "freezer", "cpu"):
        try:
            with open(f"/sys/fs/cgroup/{ctrl}/dockyard/{cid}/cgroup.procs") as f:
                return {int(x) for x in f.read().split()}
        except FileNotFoundError:
            continue
    return set()


def parse_ps(output: str, pids: set[int]) -> dict[str, Any]:
    """Docker's top: ps's header as Titles, the rows of the container's pids."""
    lines = output.splitlines()
    if not lines:
        raise SystemError_("ps printed nothing")
    titles = lines[0].split()
    try:
        pid_col = titles.index("PID")
    except ValueError:
        raise InvalidParameter("Couldn't find PID field in ps output") from None
    procs = []
    for line in lines[1:]:
        if not line.strip():
            continue
        fields = line.split(None, len(titles) - 1)
        try:
            pid = int(fields[pid_col])
        except (ValueError, IndexError):
            continue
        if pid in pids:
            procs.append(fields)
    return {"Titles": titles, "Processes": procs}


def _overlay_dirs(mounts: list[Any]) -> tuple[str, list[str]]:
    for m in mounts:
        if m.type == "overlay":
            upper, lowers = "", []
            for opt in m.options:
                if opt.startswith("upperdir="):
                    upper = opt[len("upperdir=") :]
                elif opt.startswith("lowerdir="):
                    lowers = opt[len("lowerdir=") :].split(":")
            return upper, lowers
        if m.type == "bind":
            return m.source, []
    raise SystemError_("container snapshot has no upper directory")


_ETC_MOUNTS = {"/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}


def walk_changes(upper: str, lowers: list[str]) -> Iterator[dict[str, Any]]:
    """Docker's changes from an overlay upper dir: 0 modified, 1 added, 2 deleted."""

    def in_lower(rel: str) -> bool:
        return any(os.path.lexists(os.path.join(low, rel)) for low in lowers)

    out: list[dict[str, Any]] = []
    for dirpath, dirnames, filenames in os.walk(upper):
        for base in dirnames + filenames:
            full = os.path.join(dirpath, base)
            rel = os.path.relpath(full, upper)
            st = os.lstat(full)
            if (
                os.major(st.st_rdev) == 0
                and os.minor(st.st_rdev) == 0
                and ((st.st_mode & 0o170000) == 0o020000)
            ):
                out.append({"Path": "/" + rel, "Kind": 2})
            else:
                out.append({"Path": "/" + rel, "Kind": 0 if in_lower(rel) else 1})
    # The runtime's mount points for the daemon's /etc files are not changes
    # (dockerd keeps them in an "-init" layer under the container's).
    out = [d for d in out if d["Path"] not in _ETC_MOUNTS or d["Kind"] == 2]
    if not any(d["Path"].startswith("/etc/") for d in out):
        out = [d for d in out if not (d["Path"] == "/etc" and d["Kind"] == 0)]
    out.sort(key=lambda d: d["Path"])
    yield from out


def export_command(root: str) -> list[str]:
    """GNU tar of the whole tree; it never follows symlinks without -h."""
    return ["tar", "--numeric-owner", "--xattrs", "-C", root, "-cf", "-", "."]
