"""The cluster agent's `TaskContainers` protocol over this daemon's container service.

A task's secrets and configs are written to a tmpfs of their own under the exec root
(never the node's disk) and bind-mounted read-only at their targets; the tmpfs goes
with the container.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from typing import Any

from dockyard.api.errors import NotFound
from dockyard.cluster.agent.containerspec import GWBRIDGE
from dockyard.daemon.services.containers import ContainerService
from dockyard.daemon.services.networks import NetworkService
from dockyard.daemon.services.overlay_attach import ensure_gwbridge


class ServiceTaskContainers:
    def __init__(
        self, containers: ContainerService, exec_root: str, networks: NetworkService | None = None
    ) -> None:
        self.containers = containers
        self.networks = networks
        self.files_root = os.path.join(exec_root, "swarm", "files")

    def _files_dir(self, name: str) -> str:
        return os.path.join(self.files_root, name)

    def _place_files(self, name: str, files: dict[str, bytes]) -> list[dict[str, Any]]:
        d = self._files_dir(name)
        os.makedirs(d, mode=0o700, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", d],
                       check=True, capture_output=True)  # fmt: skip
        mounts = []
        for i, (target, data) in enumerate(sorted(files.items())):
            src = os.path.join(d, str(i))
            fd = os.open(src, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            mounts.append({"Type": "bind", "Source": src, "Target": target, "ReadOnly": True})
        return mounts

    def _drop_files(self, name: str) -> None:
        d = self._files_dir(name)
        if os.path.isdir(d):
            subprocess.run(["umount", "-l", d], capture_output=True)
            shutil.rmtree(d, ignore_errors=True)

    async def create(self, name: str, body: dict[str, Any], files: dict[str, bytes]) -> str:
        if (body.get("HostConfig") or {}).get("NetworkMode") == GWBRIDGE and self.networks:
            await ensure_gwbridge(self.networks)
        if files:
            host = body.setdefault("HostConfig", {})
            host["Mounts"] = [*(host.get("Mounts") or []), *self._place_files(name, files)]
        try:
            cid, _ = self.containers.create(name, body)
        except BaseException:
            self._drop_files(name)
            raise
        return cid

    async def start(self, container_id: str) -> None:
        await self.containers.start(container_id)

    async def stop(self, container_id: str, timeout: int | None = None) -> None:
        with contextlib.suppress(NotFound):
            await self.containers.stop(container_id, timeout)

    async def remove(self, container_id: str) -> None:
        name = ""
        with contextlib.suppress(NotFound):
            name = self.containers.get(container_id).name
            await self.containers.remove(container_id, force=True)
        if name:
            self._drop_files(name.lstrip("/"))

    async def wait(self, container_id: str) -> int:
        try:
            res = await self.containers.wait(container_id, "not-running")
        except NotFound:
            return 137
        return int(res.get("StatusCode") or 0)

    def pid(self, container_id: str) -> int:
        try:
            return int(self.containers.get(container_id).state.get("Pid") or 0)
        except NotFound:
            return 0

    def by_label(self, label: str) -> dict[str, str]:
        out = {}
        for c in self.containers.list(all=True):
            value = (c.config.get("Labels") or {}).get(label)
            if value is not None:
                out[value] = c.id
        return out

    async def logs(self, container_id: str, *, stdout: bool, stderr: bool, follow: bool,
                   timestamps: bool, tail: int | None) -> AsyncIterator[tuple[int, bytes]]:  # fmt: skip
        async for item in self.containers.logs(container_id, stdout=stdout, stderr=stderr,
                                               follow=follow, timestamps=timestamps, tail=tail):  # fmt: skip
            yield item

    async def health_events(self) -> AsyncIterator[tuple[str, str]]:
        events = self.containers.events
        q = events.subscribe()
        try:
            while True:
                ev = await q.get()
                if ev.type == "container" and ev.action.startswith("health_status: "):
                    yield ev.actor_id, ev.action.split(": ", 1)[1]
        finally:
            events.unsubscribe(q)

    async def wait_healthy(self, container_id: str) -> str:
        """Until the container's health check passed or failed, or it stopped: its health
        status then ("" without a check)."""
        events = self.containers.events
        q = events.subscribe()
        try:
            while True:
                try:
                    c = self.containers.get(container_id)
                except NotFound:
                    return ""
                status = str((c.state.get("Health") or {}).get("Status") or "")
                if status != "starting" or not c.running:
                    return status
                await q.get()  # a health change or the container's end: look again
        finally:
            events.unsubscribe(q)
