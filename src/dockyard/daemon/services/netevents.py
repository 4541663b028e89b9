"""Network connect/disconnect events around a container's run, as dockerd emits them.

dockerd publishes `network connect` for every network a container's sandbox joins at
start (the `none` and `host` networks included) and `network disconnect` when it
leaves them at exit; the actor is the network, the attributes name the container,
the network and its driver type. `NetworkEvents` wraps the network layer's attacher
(the container service's `NetworkAttacher` seam) so the life cycle code and the
network service stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockyard.daemon.services.container_model import Container, NetworkLayer, SandboxInfo
from dockyard.daemon.services.events import EventBus


@dataclass(eq=False)
class NetworkEvents(NetworkLayer):
    """Adds events to attach and detach only; the rest of NetworkAttacher (created,
    settings, ps_ports, remove_link) is the wrapped layer's own."""

    events: EventBus

    async def attach(self, c: Container) -> SandboxInfo:
        info = await self.networks.attach(c)
        self._publish("connect", c, self._joined(c))
        return info

    async def detach(self, c: Container) -> None:
        joined = self._joined(c)
        await self.networks.detach(c)
        self._publish("disconnect", c, joined)

    def _joined(self, c: Container) -> list[dict[str, Any]]:
        """The networks the container's own sandbox is on now (none with
        `container:X`, whose sandbox is X's)."""
        mode = c.host_config.get("NetworkMode") or "default"
        if mode in ("host", "none"):
            return [self.networks.get(mode)]
        nets = self.networks.nets
        return [nets[nid] for nid in self.networks.endpoints.get(c.id, {}) if nid in nets]

    def _publish(self, action: str, c: Container, nets: list[dict[str, Any]]) -> None:
        for n in nets:
            self.events.publish(
                "network",
                action,
                n["Id"],
                {"container": c.id, "name": n["Name"], "type": n["Driver"]},
            )
