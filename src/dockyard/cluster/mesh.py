"""This node's share of service load balancing: VIPs in its tasks' namespaces and the
ingress routing mesh (its ingress sandbox and published ports), kept in step with the
cluster store by one watch.

What it reads (written by others): services/ (Endpoint.VirtualIPs and Ports, allocated
by cluster/endpoints.py), tasks/ (DesiredState: a task the orchestrator shuts down leaves
the balancing before its agent stops it, as dockerd), endpoints/ (the tasks' overlay
addresses, cluster/overlay.py). What it writes: health/<task id> for this node's tasks
(their containers' health status), so a task with a health check is balanced to only
while healthy, on every node. A backend is a task whose endpoint exists, desired state
is running and, if it has a health check, whose last status is healthy.

Every change marks the state dirty; one loop renders each table (network/vip.py) and
applies only those whose text changed, so a task that stops leaves every node's
balancing within one watch event and one nft exec per affected namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
from collections.abc import AsyncIterator
from typing import Any, Protocol

from dockyard.cluster.agent.agent import TASK_LABEL
from dockyard.cluster.agent.containerspec import has_healthcheck
from dockyard.cluster.model.objects import new_id
from dockyard.cluster.model.repo import ClusterObjects
from dockyard.cluster.overlay import OverlayAgent
from dockyard.cluster.store import Delete, Range
from dockyard.network import vip
from dockyard.network.ingress import HOST_IF, SANDBOX_IP, IngressSandbox

log = logging.getLogger(__name__)
SBOX_SUFFIX = "-ingress"
KINDS = ("services", "tasks", "task-status", "endpoints", "health")


class Containers(Protocol):
    """What the mesh needs of the node's engine (the agent's TaskContainers has it)."""

    def pid(self, container_id: str) -> int: ...

    def by_label(self, label: str) -> dict[str, str]: ...

    def health_events(self) -> AsyncIterator[tuple[str, str]]: ...


class ServiceMesh:
    def __init__(self, objects: ClusterObjects, containers: Containers, node_id: str,
                 overlay: OverlayAgent) -> None:  # fmt: skip
        self.objects = objects
        self.containers = containers
        self.node_id = node_id
        self.overlay = overlay
        self.ingress = IngressSandbox(overlay.root)
        # the sandbox's endpoint on the ingress network, a fresh id each time it is made:
        # its veths are named from the id's head and the last one's may linger a moment
        self.sbox_task = ""
        self.services: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.endpoints: dict[str, dict[str, dict[str, Any]]] = {}  # net → task → endpoint
        self.health: dict[str, str] = {}
        self.states: dict[str, str] = {}  # task → its observed state (agent-reported)
        self.applied: dict[str, str] = {}  # namespace → the table text last applied there
        self.cids: dict[str, str] = {}  # this node's task id → container id
        self.plain: set[str] = set()  # namespaces of plain containers on attachable overlays
        self._dirty = asyncio.Event()

    # ---- the store's view ----------------------------------------------------------------
    def _apply_kv(self, key: str, value: bytes | None) -> None:
        rest = key[len(self.objects.prefix) :]
        kind, _, name = rest.partition("/")
        if kind not in KINDS:
            return
        if kind == "endpoints":
            nid, _, tid = name.partition("/")
            if value is None:
                self.endpoints.get(nid, {}).pop(tid, None)
            else:
                self.endpoints.setdefault(nid, {})[tid] = json.loads(value)
        elif kind == "task-status":
            name = name.rsplit("/", 1)[-1]  # task-status/<node>/<task> (the agent's own prefix)
            state = json.loads(value)["State"] if value is not None else None
            if self.states.get(name) == state or (value is None and name not in self.states):
                return  # most status writes change nothing the balancing looks at
            if state is None:
                self.states.pop(name, None)
            else:
                self.states[name] = state
        elif kind == "health":
            if value is None:
                self.health.pop(name, None)
            else:
                self.health[name] = value.decode()
        else:
            table = self.services if kind == "services" else self.tasks
            if value is None:
                table.pop(name, None)
            else:
                table[name] = json.loads(value)
        self._dirty.set()

    async def run(self) -> None:
        store = self.objects.store
        await asyncio.to_thread(self._drop_sandbox)  # a previous run's, rebuilt from the store
        res = await store.txn([], [Range(self.objects.key(k), prefix=True) for k in KINDS])
        for kvs in res.ranges:
            for kv in kvs:
                self._apply_kv(kv.key, kv.value)
        stale = [(nid, tid, ep["IP"]) for nid, eps in self.endpoints.items()
                 for tid, ep in eps.items()
                 if tid.endswith(SBOX_SUFFIX) and ep.get("Node") == self.node_id]  # fmt: skip
        for nid, tid, ip in stale:  # this node's sandbox endpoint from before a restart
            await store.txn([], [Delete(self.objects.key("endpoints", f"{nid}/{tid}")),
                                 Delete(self.objects.key("ipam", f"{nid}/{ip}"))])  # fmt: skip
        loops = [asyncio.create_task(self._sync_loop()), asyncio.create_task(self._health_loop())]
        try:
            async for ev in store.watch(self.objects.prefix, res.revision + 1):
                self._apply_kv(ev.kv.key, ev.kv.value if ev.type == "put" else None)
        finally:
            for t in loops:
                t.cancel()

    async def _health_loop(self) -> None:
        """This node's tasks' health, from its containers' health events, into the store."""
        async for cid, status in self.containers.health_events():
            tid = next((t for t, c in self.cids.items() if c == cid), None)
            if tid is None:
                self.cids = dict(self.containers.by_label(TASK_LABEL))
                tid = next((t for t, c in self.cids.items() if c == cid), None)
            if tid is not None:
                with contextlib.suppress(Exception):
                    await self.objects.store.put(self.objects.key("health", tid), status.encode())

    # ---- who is a backend ----------------------------------------------------------------
    def member(self, tid: str) -> bool:
        t = self.tasks.get(tid)
        if t is None or t.get("DesiredState", "running") != "running":
            return False
        return not has_healthcheck(t) or (
            self.states.get(tid) == "running" and self.health.get(tid, "healthy") == "healthy"
        )

    def backends(self, svc_id: str, nid: str) -> tuple[str, ...]:
        eps = self.endpoints.get(nid, {})
        return tuple(sorted(
            (ep["IP"] for tid, ep in eps.items()
             if self.tasks.get(tid, {}).get("ServiceID") == svc_id and self.member(tid)),
            key=lambda ip: ipaddress.ip_address(ip),
        ))  # fmt: skip

    def ingress_id(self) -> str:
        for svc in self.services.values():
            for port in (svc.get("Endpoint") or {}).get("Ports") or []:
                if port.get("PublishMode") == "ingress":
                    vips = (svc.get("Endpoint") or {}).get("VirtualIPs") or []
                    return str(vips[0]["NetworkID"]) if vips else ""
        return ""

    def published(self, ingress: str) -> list[vip.Balanced]:
        out = []
        for sid, svc in sorted(self.services.items()):
            for p in (svc.get("Endpoint") or {}).get("Ports") or []:
                if p.get("PublishMode") == "ingress":
                    out.append(vip.Balanced(self.backends(sid, ingress), proto=p["Protocol"],
                                            port=p["PublishedPort"], target=p["TargetPort"]))  # fmt: skip
        return out

    # ---- programming the kernel ----------------------------------------------------------
    async def _sync_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self._sync()
            except Exception:
                log.exception("service mesh: programming the balancing failed")

    async def _program(self, ns: str, text: str) -> None:
        key = ns or "node"
        if self.applied.get(key) == text:
            return
        await asyncio.to_thread(vip.apply, text, ns or None)
        self.applied[key] = text

    async def _sync(self) -> None:
        ingress = self.ingress_id()
        local: dict[str, set[str]] = {}
        for nid, eps in self.endpoints.items():
            for tid, ep in eps.items():
                # a task, or a plain container on an attachable overlay (its endpoint
                # is its container id: daemon/services/overlay_attach.py)
                mine = tid in self.tasks or self.overlay.task_of.get(tid) == tid
                if ep.get("Node") == self.node_id and mine:
                    local.setdefault(tid, set()).add(nid)
        if any(t not in self.cids for t in local if t in self.tasks):
            self.cids = dict(self.containers.by_label(TASK_LABEL))
        live = set()
        for tid, nets in local.items():
            if tid in self.tasks:
                pid = self.containers.pid(self.cids.get(tid, "")) if tid in self.cids else 0
                ns = f"/proc/{pid}/ns/net" if pid else ""
            else:  # a plain container's namespace exists before its process does
                ns = self.overlay.ns_of.get(tid, "")
                self.plain.add(ns)
            if not ns:
                continue
            vips = [vip.Balanced(self.backends(sid, v["NetworkID"]), vip=v["Addr"].split("/")[0])
                    for sid, svc in sorted(self.services.items())
                    for v in (svc.get("Endpoint") or {}).get("VirtualIPs") or []
                    if v["NetworkID"] in nets and v["NetworkID"] != ingress]  # fmt: skip
            live.add(ns)
            with contextlib.suppress(Exception):  # the task may be gone meanwhile
                await self._program(ns, vip.render_task(vips))
        for ns in [k for k in self.applied
                   if (k.startswith("/proc/") or k in self.plain) and k not in live]:  # fmt: skip
            del self.applied[ns]
            self.plain.discard(ns)
        for tid in [t for t in self.cids if t not in self.tasks]:
            del self.cids[tid]
            with contextlib.suppress(Exception):
                await self.objects.store.txn([], [Delete(self.objects.key("health", tid))])
        await self._sync_ingress(ingress)

    async def _sync_ingress(self, ingress: str) -> None:
        ports = self.published(ingress) if ingress else []
        if not ports:
            if self.ingress.exists():
                await self._leave_ingress()
            return
        if not self.ingress.exists():
            await asyncio.to_thread(self.ingress.ensure)
            self.applied.pop(self.ingress.path, None)
            self.sbox_task = f"{new_id()[:17]}{SBOX_SUFFIX}"
            task = {"ID": self.sbox_task, "Spec": {"Networks": [{"Target": ingress}]}}
            await self.overlay.attach(task, "ingress-sbox", self.ingress.path, "")
        await self._program(self.ingress.path, vip.render_ingress_sandbox(ports, "eth1"))
        await self._program("", vip.render_node(ports, SANDBOX_IP))

    async def _leave_ingress(self) -> None:
        with contextlib.suppress(Exception):
            await self.overlay.detach(self.sbox_task)
        await asyncio.to_thread(self._drop_sandbox)

    def _drop_sandbox(self) -> None:
        with contextlib.suppress(Exception):
            vip.remove(None)
        self.applied.pop("node", None)
        self.applied.pop(self.ingress.path, None)
        if self.ingress.exists() or os.path.exists(f"/sys/class/net/{HOST_IF}"):
            self.ingress.remove()

    # ---- names -----------------------------------------------------------------------------
    def resolve(self, cid: str, name: str) -> list[str]:
        """`<service>` answers the service's VIP on a network the asking task shares with
        it (vip mode); everything else (dnsrr, `tasks.<service>`, aliases) the tasks'
        addresses, never those on the ingress network (not a network for names)."""
        tid = self.overlay.task_of.get(cid)
        if tid is None:
            return []
        ingress = self.ingress_id()
        bare = name.lower().rstrip(".")
        if not bare.startswith("tasks."):
            nets = {nid for nid, eps in self.endpoints.items() if tid in eps and nid != ingress}
            for svc in self.services.values():
                if svc["Spec"]["Name"].lower() != bare:
                    continue
                vips = [v["Addr"].split("/")[0]
                        for v in (svc.get("Endpoint") or {}).get("VirtualIPs") or []
                        if v["NetworkID"] in nets]  # fmt: skip
                if vips:
                    return vips[:1]
        skip = self.overlay.sandboxes.get(ingress)
        return [ip for ip in self.overlay.resolve(cid, name)
                if skip is None or ipaddress.ip_address(ip) not in skip.subnet]  # fmt: skip

    async def leave(self) -> None:
        """The node leaves the swarm: its ingress sandbox and node table go (task tables go
        with the tasks' namespaces)."""
        await self._leave_ingress()
