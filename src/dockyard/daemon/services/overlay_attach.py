"""Plain containers on attachable overlay networks (`docker run --network OVL`, `docker
network connect OVL C`) on any node of the swarm, as dockerd has them: eth0 on the
node's docker_gwbridge (the way out, and the embedded DNS), eth1.. on the overlays, each
an endpoint in the cluster store as a task's is (cluster/overlay.py), so tasks and
containers on every node reach it by address and name, and it reaches services by name.
Its leaving (exit, disconnect) deletes the endpoints, which every node's overlay agent
unprograms. A network that is not attachable is refused with swarmkit's words.

`OverlayAttachments` wraps the network attacher at the container service's seam, as
NetworkEvents and LegacyLinks do; the network service sees a container's node-local
networks only, through its `local_part` hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from dataclasses import dataclass, field
from typing import Any

from dockyard.api.errors import Conflict, Forbidden, NotFound, SystemError_
from dockyard.cluster import overlay
from dockyard.cluster.agent.containerspec import GWBRIDGE
from dockyard.cluster.node import ClusterNode
from dockyard.daemon.services.container_model import Container, SandboxInfo
from dockyard.daemon.services.endpoint_settings import endpoint_settings
from dockyard.daemon.services.networks import NetworkNotFound, NetworkService
from dockyard.network.overlay import mac_of, unplug

log = logging.getLogger(__name__)


def not_attachable(ref: str) -> SystemError_:
    """swarmkit's refusal as dockerd passes it on (a 500: the gRPC code is in the text)."""
    return SystemError_(
        f"Could not attach to network {ref}: rpc error: code = PermissionDenied desc = "
        f"network {ref} not manually attachable"
    )


async def ensure_gwbridge(networks: NetworkService) -> None:
    """docker_gwbridge, made with the node's first overlay endpoint (as dockerd)."""
    try:
        networks.get(GWBRIDGE)
    except NotFound:
        with contextlib.suppress(Conflict):
            await networks.create({"Name": GWBRIDGE, "Driver": "bridge", "Options": {
                "com.docker.network.bridge.name": GWBRIDGE}})  # fmt: skip


async def drop_gwbridge(networks: NetworkService) -> None:
    """After the node left the swarm: docker_gwbridge goes unless a container still uses
    it, so a leave leaves no device, route or rule behind."""
    with contextlib.suppress(NotFound):
        n = networks.get(GWBRIDGE)
        if not any(n["Id"] in per for per in networks.endpoints.values()):
            await networks.remove(GWBRIDGE)


@dataclass
class Joined:
    """A running container's endpoints on overlays: by the reference it used."""

    nets: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    eps: dict[str, dict[str, Any]] = field(default_factory=dict)  # net id → endpoint


class OverlayAttachments:
    def __init__(self, inner: Any, networks: NetworkService) -> None:
        self.inner = inner
        self.networks = networks
        self.cluster: ClusterNode | None = None  # set once the cluster node exists (main.py)
        self.joined: dict[str, Joined] = {}  # container id → its overlays
        networks.local_part = self._local_part

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _local_part(self, cid: str, mode: str, eps: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        j = self.joined.get(cid)
        if j is None:
            return mode, eps
        return (GWBRIDGE if mode in j.nets else mode), {
            k: v for k, v in eps.items() if k not in j.nets
        }

    async def _find(self, ref: str) -> dict[str, Any] | None:
        """A swarm overlay network `ref` names when no local network does."""
        cl = self.cluster
        if cl is None or not cl.active or cl.objects is None or cl.overlay is None:
            return None
        try:
            self.networks.get(ref)
            return None
        except NetworkNotFound:
            return await overlay.find_network(cl.objects, ref)

    async def attach(self, c: Container) -> SandboxInfo:
        mode = c.host_config.get("NetworkMode") or "default"
        eps = self.networks.endpoint_configs(c.id)
        j = Joined()
        for ref in dict.fromkeys([mode, *eps]):
            if ref in ("default", "bridge", "host", "none") or ref.startswith("container:"):
                continue
            n = await self._find(ref)
            if n is None:
                continue
            if not n.get("Attachable"):
                raise not_attachable(ref)
            j.nets[ref] = (n, eps.get(ref) or {})
        if not j.nets:
            return await self.inner.attach(c)
        await ensure_gwbridge(self.networks)
        self.joined[c.id] = j
        try:
            info = await self.inner.attach(c)
        except BaseException:
            self.joined.pop(c.id, None)
            raise
        try:
            await self._join(c, list(j.nets.values()))
        except BaseException:
            await self.detach(c)
            raise
        return info

    async def _join(self, c: Container, nets: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        cl = self.cluster
        assert cl is not None and cl.overlay is not None
        j = self.joined[c.id]
        used = [int(ep["ifname"][3:]) for ep in self.networks.endpoints.get(c.id, {}).values()]
        used += [int(ep["Interface"][3:]) for ep in j.eps.values()]
        names = [c.name.lstrip("/"), c.id[:12]]
        for n, cfg in nets:
            ep = (await cl.overlay.join(
                c.id, c.id, self.networks.netns_path(c.id),
                [(n, [*names, *(cfg.get("Aliases") or [])])], "", max(used, default=-1) + 1,
            ))[0]  # fmt: skip
            used.append(int(ep["Interface"][3:]))
            j.eps[n["Id"]] = ep

    async def detach(self, c: Container) -> None:
        j = self.joined.pop(c.id, None)
        cl = self.cluster
        if j is not None and cl is not None and cl.overlay is not None:
            try:
                await cl.overlay.detach(c.id)
            except Exception as exc:  # the store is away: the node's leave cleans up
                log.warning("container %s: overlay endpoints not released: %s", c.id[:12], exc)
        await self.inner.detach(c)

    # ---- network connect / disconnect (called by the networks API) ----------------------
    async def connect(self, n: dict[str, Any], ref: str, body: dict[str, Any]) -> None:
        if not n.get("Attachable"):
            raise not_attachable(ref)
        c = self.networks.containers.get(body.get("Container") or "")
        if not c.running:
            raise Forbidden(f"container {c.id} is not running: cannot attach it to {ref}")
        j = self.joined.setdefault(c.id, Joined())
        if n["Id"] in j.eps:
            raise Forbidden(
                f"endpoint with name {c.name.lstrip('/')} already exists in network {n['Name']}"
            )
        cfg = body.get("EndpointConfig") or {}
        j.nets[ref] = (n, cfg)
        await self._join(c, [(n, cfg)])

    async def disconnect(self, n: dict[str, Any], body: dict[str, Any]) -> None:
        c = self.networks.containers.get(body.get("Container") or "")
        j = self.joined.get(c.id)
        ep = j.eps.pop(n["Id"], None) if j else None
        if j is None or ep is None:
            raise Forbidden(f"container {c.id} is not connected to network {n['Name']}")
        j.nets = {r: v for r, v in j.nets.items() if v[0]["Id"] != n["Id"]}
        cl = self.cluster
        assert cl is not None and cl.overlay is not None
        with contextlib.suppress(SystemError_):  # the namespace may be gone already
            await asyncio.to_thread(unplug, self.networks.netns_path(c.id), ep["Interface"])
        await cl.overlay.detach(c.id, only=n["Id"])

    # ---- views --------------------------------------------------------------------------
    def settings(self, c: Container) -> dict[str, Any]:
        out: dict[str, Any] = self.inner.settings(c)
        j = self.joined.get(c.id)
        if j is None or not c.running:
            return out
        nets = {k: v for k, v in out["Networks"].items() if k != GWBRIDGE}
        for n, cfg in j.nets.values():
            ep = j.eps.get(n["Id"])
            if ep is None:
                continue
            plen = ipaddress.ip_network(n["IPAM"]["Config"][0]["Subnet"]).prefixlen
            mine = {"ip": ep["IP"], "mac": mac_of(ep["IP"]), "gateway": "",
                    "endpoint_id": f"{c.id}{n['Id']}"[:64], "aliases": cfg.get("Aliases")}  # fmt: skip
            view = endpoint_settings(c, n, cfg, mine, plen)
            view["IPAMConfig"] = view["IPAMConfig"] or {"IPv4Address": ep["IP"]}
            nets[n["Name"]] = view
        out["Networks"] = nets
        return out
