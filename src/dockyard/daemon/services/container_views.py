"""The container service seen from the API: Docker's list (with its filters:
id, name, status, exited, label, ancestor, health, before/since, network,
volume, is-task), ContainerSummary and ContainerJSON documents, their sizes
(`?size=1`), and the removal of a legacy link. Moved out of the router so that
it holds wire shapes only and the rules live here, beside the records.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from dockyard.api.filters import labels_match, match
from dockyard.daemon.services.container_model import Container, status_text
from dockyard.daemon.services.containers import ContainerService
from dockyard.daemon.services.disk_usage import container_sizes
from dockyard.monitor import jsonlog


def _command(c: Container) -> str:
    """As dockerd's list: the path, then the args, those with a space single-quoted."""
    args = [f"'{a}'" if " " in a else a for a in c.args]
    return " ".join([c.path, *args]) if args else c.path


def _created_unix(c: Container) -> int:
    return jsonlog.parse_rfc3339_nano(c.created) // 1_000_000_000


def matches(c: Container, filters: dict[str, list[str]]) -> bool:
    """The list filters a container's record alone decides."""
    for key, values in filters.items():
        if key == "id" and not match(values, c.id):
            return False
        if key == "name" and not match(values, c.name, c.name.lstrip("/")):
            return False
        if key == "status" and c.state.get("Status") not in values:
            return False
        if key == "exited":
            if c.state.get("Status") != "exited":
                return False
            if str(c.state.get("ExitCode")) not in values:
                return False
        if key in ("label", "label!") and not labels_match(
            c.config.get("Labels") or {}, {key: values}
        ):
            return False
        if key == "ancestor" and not any(v in (c.image, c.image_id) for v in values):
            return False
        if key == "health":
            status = (c.state.get("Health") or {}).get("Status", "none")
            if status not in values:
                return False
        if key == "is-task" and "true" in values:
            return False
    return True


def summary(c: Container, now: float) -> dict[str, Any]:
    """ContainerSummary from the record alone (no network or volume view)."""
    return {
        "Id": c.id,
        "Names": [c.name],
        "Image": c.image,
        "ImageID": c.image_id,
        "Command": _command(c),
        "Created": _created_unix(c),
        "Ports": [],
        "Labels": c.config.get("Labels") or {},
        "State": c.state.get("Status"),
        "Status": status_text(c.state, now),
        "HostConfig": {"NetworkMode": c.host_config.get("NetworkMode", "default")},
        "NetworkSettings": {"Networks": {}},
        "Mounts": [],
    }


class ContainerViews:
    def __init__(self, svc: ContainerService) -> None:
        self.svc = svc

    def network_settings(self, c: Container) -> dict[str, Any]:
        return self.svc.network.settings(c)

    def mount_points(self, c: Container) -> list[dict[str, Any]]:
        return self.svc.volumes.mount_points(c)

    def summary(self, c: Container, now: float) -> dict[str, Any]:
        ns = self.network_settings(c)
        return {
            **summary(c, now),
            "Ports": self.svc.network.ps_ports(c, ns),
            "NetworkSettings": {"Networks": ns["Networks"]},
            "Mounts": self.mount_points(c),
        }

    def _on_networks_and_volumes(self, c: Container, f: dict[str, Any]) -> bool:
        """The `network` (name or id) and `volume` (name or mount destination) filters."""
        if f.get("network"):
            nets = self.network_settings(c)["Networks"]
            ids = set(nets) | {n.get("NetworkID", "") for n in nets.values()}
            if not any(v in ids or any(i.startswith(v) for i in ids if i) for v in f["network"]):
                return False
        if f.get("volume"):
            mounts = self.mount_points(c)
            names = {m.get("Name") for m in mounts} | {m.get("Destination") for m in mounts}
            names |= {m.get("Source") for m in mounts if m.get("Type") == "bind"}
            if not any(v in names for v in f["volume"]):
                return False
        return True

    def _relative(self, items: list[Container], filters: dict[str, list[str]]) -> list[Container]:
        """`before` / `since`: containers created before / after the named one."""
        for key in ("before", "since"):
            for ref in filters.get(key, []):
                pivot = self.svc.get(ref)
                if key == "before":
                    items = [c for c in items if c.created < pivot.created]
                else:
                    items = [c for c in items if c.created > pivot.created]
        return items

    async def list_summaries(
        self, filters: dict[str, list[str]], all: bool, limit: int | None, size: bool
    ) -> list[dict[str, Any]]:
        """GET /containers/json: newest first; a status filter or a limit shows stopped ones."""
        show_all = all or bool(filters.get("status"))
        chosen = [
            c for c in self.svc.list(all=True, limit=None)
            if matches(c, filters) and (show_all or c.running or limit)
        ]  # fmt: skip
        chosen = self._relative(chosen, filters)
        chosen = [c for c in chosen if self._on_networks_and_volumes(c, filters)]
        if limit and limit > 0:
            chosen = chosen[:limit]
        now = time.time()
        docs = [self.summary(c, now) for c in chosen]
        if size:
            await self._with_sizes(list(zip(chosen, docs, strict=True)))
        return docs

    async def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        """GET /containers/{id}/json."""
        c = self.svc.get(ref)
        p = self.svc.paths
        doc = {
            "Id": c.id,
            "Created": c.created,
            "Path": c.path,
            "Args": c.args,
            "State": dict(c.state),
            "Image": c.image_id,
            "ResolvConfPath": p.etc_file(c.id, "resolv.conf"),
            "HostnamePath": p.etc_file(c.id, "hostname"),
            "HostsPath": p.etc_file(c.id, "hosts"),
            "LogPath": p.log(c.id),
            "Name": c.name,
            "RestartCount": c.restart_count,
            "Driver": "overlay2",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": None,
            "HostConfig": c.host_config,
            "GraphDriver": {"Name": "overlay2", "Data": None},
            "Mounts": self.mount_points(c),
            "Config": c.config,
            "NetworkSettings": self.network_settings(c),
        }
        if size:
            await self._with_sizes([(c, doc)])
        return doc

    async def _with_sizes(self, pairs: list[tuple[Container, dict[str, Any]]]) -> None:
        """`?size=1`: SizeRw and SizeRootFs, walked in a thread (a writable layer can be big)."""

        def walk() -> None:
            for c, doc in pairs:
                doc["SizeRw"], doc["SizeRootFs"] = container_sizes(self.svc.images, c)

        await asyncio.to_thread(walk)

    def remove_link(self, name: str) -> None:
        """`docker rm --link /parent/alias`."""
        self.svc.network.remove_link(name)
