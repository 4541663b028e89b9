"""The networks API over both scopes: this node's networks (NetworkService) and the
swarm's overlay networks (cluster/overlay.py, in the cluster store). `-d overlay` is
created on a manager only, as dockerd; list and inspect show both scopes."""

from __future__ import annotations

from typing import Any

from dockyard.api.errors import NotFound
from dockyard.cluster import overlay
from dockyard.cluster.node import ClusterNode
from dockyard.daemon.services.networks import NetworkService
from dockyard.daemon.services.overlay_attach import OverlayAttachments


class Networks:
    def __init__(
        self, local: NetworkService, cluster: ClusterNode, attachments: OverlayAttachments
    ) -> None:
        self.local = local
        self.cluster = cluster
        self.attachments = attachments

    async def _cluster_nets(self) -> list[dict[str, Any]]:
        if not self.cluster.active or self.cluster.objects is None:
            return []
        return await overlay.list_networks(self.cluster.objects)

    async def list(self, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        out = self.local.list(filters)
        for n in await self._cluster_nets():
            if self.local.matches(n, filters):
                out.append(n)
        return out

    async def inspect(self, ref: str) -> dict[str, Any]:
        try:
            return self.local.view(self.local.get(ref))
        except NotFound:
            if self.cluster.active and self.cluster.objects is not None:
                n = await overlay.find_network(self.cluster.objects, ref)
                if n is not None:
                    return n
            raise

    async def create(self, body: dict[str, Any]) -> dict[str, str]:
        if body.get("Driver") == "overlay":
            return await overlay.create_network(self.cluster.require_manager(), body)
        return await self.local.create(body)

    async def remove(self, ref: str) -> None:
        try:
            self.local.get(ref)
        except NotFound:
            if self.cluster.active and self.cluster.objects is not None:
                return await overlay.remove_network(self.cluster.require_manager(), ref)
            raise
        await self.local.remove(ref)

    async def prune(self, filters: dict[str, list[str]]) -> list[str]:
        return await self.local.prune(filters)

    async def _overlay(self, ref: str) -> dict[str, Any] | None:
        """The swarm's network `ref` names when no local network does."""
        try:
            self.local.get(ref)
        except NotFound:
            if self.cluster.active and self.cluster.objects is not None:
                return await overlay.find_network(self.cluster.objects, ref)
        return None

    async def connect(self, ref: str, body: dict[str, Any]) -> None:
        n = await self._overlay(ref)
        if n is not None:
            return await self.attachments.connect(n, ref, body)
        await self.local.connect(ref, body)

    async def disconnect(self, ref: str, body: dict[str, Any]) -> None:
        n = await self._overlay(ref)
        if n is not None:
            return await self.attachments.disconnect(n, body)
        await self.local.disconnect(ref, body)
