"""Overlay networks in the cluster store, and each node's share of them.

Keys (under the swarm's prefix):
    overlay-networks/<id>        the network, in the Engine API's inspect shape
    names/networks/<name>, vni/<n>, subnets/<cidr>   claimed in the create's txn
    ipam/<net id>/<ip>           → the task id holding the address: a txn that needs the
                                 key absent is how no address is ever handed out twice
    endpoints/<net id>/<task id> {IP, Addr}: where a task's endpoint lives (its node's
                                 underlay address), written by that node's agent
Every node's `OverlayAgent` watches endpoints/ and programs the VXLAN FDB and
neighbour entries of the sandboxes it has (network/overlay.py); a sandbox is made
when the node's first task on the network starts and removed with its last one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from typing import Any

from dockyard.api.errors import Conflict, Forbidden, NotFound
from dockyard.cluster.model.repo import ClusterObjects
from dockyard.cluster.store import Compare, Delete, Put
from dockyard.network import ipsec
from dockyard.network.overlay import Sandbox, drop_default_route

log = logging.getLogger(__name__)
FIRST_VNI = 4097  # dockerd's first overlay VXLAN id
DEFAULT_POOL = ipaddress.ip_network("10.0.0.0/8")  # dockerd's default address pool, /24s


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())


async def create_network(objects: ClusterObjects, body: dict[str, Any]) -> dict[str, str]:
    name = body.get("Name") or ""
    opts = body.get("Options") or {}
    if "encrypted" in opts:
        why = await asyncio.to_thread(ipsec.missing)
        raise Forbidden(
            "encrypted overlay networks need IPsec ESP with rfc4106(gcm(aes)), which this "
            f"kernel refuses ({why})" if why else
            "encrypted overlay networks are not supported by this engine yet"
        )  # fmt: skip
    ipam_cfg = ((body.get("IPAM") or {}).get("Config") or [{}])[0] or {}
    for _ in range(20):
        nets = [json.loads(kv.value) for kv in (await objects.store.range(
            objects.key("overlay-networks")))[0]]  # fmt: skip
        if any(n["Name"] == name for n in nets):
            raise Conflict(f"network with name {name} already exists")
        vnis = [int(n["Options"]["com.docker.network.driver.overlay.vxlanid_list"]) for n in nets]
        vni = max(vnis, default=FIRST_VNI - 1) + 1
        used = {n["IPAM"]["Config"][0]["Subnet"] for n in nets}
        subnet = ipam_cfg.get("Subnet") or next(
            str(s) for s in list(DEFAULT_POOL.subnets(new_prefix=24))[1:] if str(s) not in used
        )
        net = ipaddress.ip_network(subnet)
        gateway = ipam_cfg.get("Gateway") or str(net[1])
        nid = secrets.token_hex(12)[:25]
        doc = {
            "Name": name, "Id": nid, "Created": _now(), "Scope": "swarm", "Driver": "overlay",
            "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": None,
                     "Config": [{"Subnet": subnet, "Gateway": gateway}]},
            "Internal": bool(body.get("Internal")), "Attachable": bool(body.get("Attachable")),
            "Ingress": bool(body.get("Ingress")), "ConfigFrom": {"Network": ""},
            "ConfigOnly": False, "Containers": {},
            "Options": {**opts, "com.docker.network.driver.overlay.vxlanid_list": str(vni)},
            "Labels": body.get("Labels") or {},
        }  # fmt: skip
        keys = [objects.key("names", f"networks/{name}"), objects.key("vni", str(vni)),
                objects.key("subnets", subnet.replace("/", "_"))]  # fmt: skip
        res = await objects.store.txn(
            [Compare(k, "create", 0) for k in keys],
            [Put(objects.key("overlay-networks", nid), json.dumps(doc).encode()),
             *(Put(k, nid.encode()) for k in keys)],
        )  # fmt: skip
        if res.succeeded:
            return {"Id": nid, "Warning": ""}
        if ipam_cfg.get("Subnet") and await objects.store.get(keys[2]) is not None:
            raise Forbidden("Pool overlaps with other one on this address space")
    raise Conflict(f"network with name {name} already exists")


async def list_networks(objects: ClusterObjects) -> list[dict[str, Any]]:
    kvs, _ = await objects.store.range(objects.key("overlay-networks"))
    return [json.loads(kv.value) for kv in kvs]


async def find_network(objects: ClusterObjects, ref: str) -> dict[str, Any] | None:
    """By id, name, then unique id prefix (as dockerd resolves a network)."""
    nets = await list_networks(objects)
    for pick in (lambda n: n["Id"] == ref, lambda n: n["Name"] == ref,
                 lambda n: n["Id"].startswith(ref)):  # fmt: skip
        found = [n for n in nets if pick(n)]
        if len(found) == 1:
            return found[0]
    return None


async def resolve_networks(objects: ClusterObjects, task_template: dict[str, Any]) -> None:
    """A service's network attachments name networks by id, as dockerd stores them (a
    stack names them); one that names no swarm network is refused as dockerd does."""
    for att in task_template.get("Networks") or []:
        n = await find_network(objects, att.get("Target") or "")
        if n is None:
            raise NotFound(f"network {att.get('Target') or ''} not found")
        att["Target"] = n["Id"]


async def _check_unused(objects: ClusterObjects, nid: str) -> None:
    """swarmkit's rule: no service names the network, and no task that is to run (or a
    container attached by hand) has an endpoint on it; tasks being retired or removed do
    not count, so `stack rm` can remove a network right after its services."""

    def busy(what: str, ref: str) -> Forbidden:
        return Forbidden(f"rpc error: code = FailedPrecondition desc = network {nid} is in use "
                         f"by {what} {ref}")  # fmt: skip

    for svc in await objects.list("services"):
        if any(a.get("Target") == nid
               for a in (svc["Spec"].get("TaskTemplate") or {}).get("Networks") or []):  # fmt: skip
            raise busy("service", svc["ID"])
    kvs, _ = await objects.store.range(objects.key("endpoints", nid + "/"))
    if kvs:
        tasks = {t["ID"]: t for t in await objects.list("tasks")}
        services = {s["ID"] for s in await objects.list("services")}
        for kv in kvs:
            ep_id = kv.key.rsplit("/", 1)[1]
            t = tasks.get(ep_id)
            # a task to run, or a plain container (no service); not a task being retired,
            # one whose service is gone (stack rm: its tasks are not retired yet), or one
            # already deleted whose node has not released its endpoint yet
            if t is not None:
                if t["DesiredState"] == "running" and t["ServiceID"] in services:
                    raise busy("task", ep_id)
            elif not json.loads(kv.value).get("Service"):
                raise busy("task", ep_id)


async def remove_network(objects: ClusterObjects, ref: str) -> None:
    n = await find_network(objects, ref)
    if n is None:
        raise NotFound(f"network {ref} not found")
    await _check_unused(objects, n["Id"])
    vni = n["Options"]["com.docker.network.driver.overlay.vxlanid_list"]
    await objects.store.txn([], [
        Delete(objects.key("overlay-networks", n["Id"])),
        Delete(objects.key("names", f"networks/{n['Name']}")),
        Delete(objects.key("vni", vni)),
        Delete(objects.key("subnets", n["IPAM"]["Config"][0]["Subnet"].replace("/", "_"))),
        Delete(objects.key("ipam", n["Id"] + "/"), prefix=True),
    ])  # fmt: skip


async def allocate_ip(
    objects: ClusterObjects, n: dict[str, Any], owner: str, lease: int = 0
) -> str:
    cfg = n["IPAM"]["Config"][0]
    net = ipaddress.ip_network(cfg["Subnet"])
    prefix = objects.key("ipam", n["Id"] + "/")
    for _ in range(50):
        kvs, _rev = await objects.store.range(prefix)
        used = {kv.key.rsplit("/", 1)[1] for kv in kvs} | {cfg["Gateway"]}
        for ip in net.hosts():
            if str(ip) not in used:
                break
        else:
            raise Forbidden("could not find an available IP while allocating VIP")
        res = await objects.store.txn([Compare(prefix + str(ip), "create", 0)],
                                      [Put(prefix + str(ip), owner.encode(), lease)])  # fmt: skip
        if res.succeeded:
            return str(ip)
    raise Conflict("could not allocate an address: too much contention")


class OverlayAgent:
    """This node's sandboxes and endpoints; `root` is under the exec root."""

    def __init__(
        self,
        objects: ClusterObjects,
        node_id: str,
        addr: str,
        root: str,
        lease: Callable[[], int] = lambda: 0,
    ) -> None:
        """`lease`: the node's liveness lease now; this node's endpoints and addresses
        are bound to it, so a node that dies or is removed takes them with it (every
        node's watch then drops its FDB and neighbour entries) without a reaper."""
        self.lease = lease
        self.objects = objects
        self.node_id = node_id
        self.addr = addr
        self.root = root
        self.sandboxes: dict[str, Sandbox] = {}
        self.local: dict[str, set[str]] = {}  # net id → this node's task ids on it
        self.remote: dict[str, dict[str, dict[str, str]]] = {}  # net id → task → endpoint
        self.all: dict[str, dict[str, dict[str, Any]]] = {}  # every node's, for names
        self.task_of: dict[str, str] = {}  # this node's container id → task id
        self.mine: dict[tuple[str, str], dict[str, Any]] = {}  # (net, endpoint) → this node's
        self.ns_of: dict[str, str] = {}  # this node's endpoint → its namespace's path
        self._lock = asyncio.Lock()

    def _sandbox(self, n: dict[str, Any]) -> Sandbox:
        cfg = n["IPAM"]["Config"][0]
        vni = int(n["Options"]["com.docker.network.driver.overlay.vxlanid_list"])
        return Sandbox(self.root, n["Id"], vni, cfg["Subnet"], cfg["Gateway"])

    async def attach(self, task: dict[str, Any], cid: str, pid: int | str, service: str) -> None:
        """Every overlay network the task names: eth<i> in the namespace of process `pid`
        (eth0 stays the node-local bridge, as docker_gwbridge), or at a path (the ingress
        sandbox's)."""
        nets = []
        for att in (task.get("Spec") or {}).get("Networks") or []:
            ref = att.get("Target", "")
            n = await find_network(self.objects, ref)
            if n is None:
                raise NotFound(f"network {ref} not found")
            nets.append((n, list(att.get("Aliases") or [])))
        ns = pid if isinstance(pid, str) else f"/proc/{pid}/ns/net"
        await self.join(task["ID"], cid, ns, nets, service, first=1, isolate=isinstance(pid, int))

    async def join(
        self,
        ep_id: str,
        cid: str,
        ns: str,
        nets: list[tuple[dict[str, Any], list[str]]],
        service: str,
        first: int,
        isolate: bool = True,
    ) -> list[dict[str, Any]]:
        """Endpoint `ep_id` (a task, or a container on an attachable network) on each
        network: an address, the sandbox, eth<first+i> in namespace `ns`, the endpoint
        recorded for the other nodes. On internal overlays only, no default route."""
        self.task_of[cid] = ep_id
        self.ns_of[ep_id] = ns
        internal = bool(nets)
        out = []
        for i, (n, aliases) in enumerate(nets, start=first):
            internal = internal and bool(n.get("Internal"))
            ip = await allocate_ip(self.objects, n, ep_id, self.lease())
            async with self._lock:
                sb = self.sandboxes.get(n["Id"]) or self._sandbox(n)
                fresh = not sb.exists()
                await asyncio.to_thread(sb.ensure)
                self.sandboxes[n["Id"]] = sb
                self.local.setdefault(n["Id"], set()).add(ep_id)
                if fresh:
                    # a copy: the watch adds endpoints while this awaits
                    for ep in list(self.remote.get(n["Id"], {}).values()):
                        await asyncio.to_thread(sb.add_remote, ep["IP"], ep["Addr"])
                await asyncio.to_thread(sb.attach, ns, f"eth{i}", ip, f"{ep_id[:6]}{i}")
            ep = {"IP": ip, "Addr": self.addr, "Node": self.node_id, "Service": service,
                  "Aliases": aliases, "Interface": f"eth{i}"}  # fmt: skip
            await self.objects.store.put(
                self.objects.key("endpoints", f"{n['Id']}/{ep_id}"), json.dumps(ep).encode(),
                lease=self.lease(),
            )  # fmt: skip
            self.mine[(n["Id"], ep_id)] = ep
            out.append(ep)
        if internal and isolate:  # only internal overlays: no way out via docker_gwbridge
            await asyncio.to_thread(drop_default_route, ns)
        return out

    def balanced(self, task_id: str) -> bool:
        """The task has an endpoint on an overlay (so service VIPs may balance to it)."""
        return any(task_id in tids for tids in self.local.values())

    async def detach(self, task_id: str, only: str = "") -> None:
        """The endpoint's entries and addresses leave the store (on network `only`, or
        on all); a sandbox with no endpoint left on this node goes."""
        if not only:
            for cid in [c for c, t in self.task_of.items() if t == task_id]:
                del self.task_of[cid]
            self.ns_of.pop(task_id, None)
        for nid, tids in list(self.local.items()):
            if task_id not in tids or (only and nid != only):
                continue
            tids.discard(task_id)
            self.mine.pop((nid, task_id), None)
            kv = await self.objects.store.get(self.objects.key("endpoints", f"{nid}/{task_id}"))
            ops: list[Put | Delete] = [Delete(self.objects.key("endpoints", f"{nid}/{task_id}"))]
            if kv is not None:
                ops.append(Delete(self.objects.key("ipam", f"{nid}/{json.loads(kv.value)['IP']}")))
            await self.objects.store.txn([], ops)  # type: ignore[arg-type]
            if not tids:
                async with self._lock:
                    sb = self.sandboxes.pop(nid, None)
                    self.local.pop(nid, None)
                    if sb is not None:
                        await asyncio.to_thread(sb.remove)

    async def run(self) -> None:
        """Programs remote endpoints into the sandboxes from the store, as they come and go.
        Sandboxes a previous run of the daemon left are removed first: what they held
        is unknown now (their endpoints went with that run's lease)."""
        async with self._lock:
            await asyncio.to_thread(self.cleanup, set(self.sandboxes))
        prefix = self.objects.key("endpoints")
        kvs, rev = await self.objects.store.range(prefix)
        for kv in kvs:
            await self._put(kv.key, json.loads(kv.value))
        async for ev in self.objects.store.watch(prefix, rev + 1):
            if ev.type == "put":
                await self._put(ev.kv.key, json.loads(ev.kv.value))
            else:
                await self._delete(ev.kv.key)

    async def _put(self, key: str, ep: dict[str, str]) -> None:
        nid, tid = key.rsplit("/", 2)[1:]
        self.all.setdefault(nid, {})[tid] = ep
        if ep.get("Node") == self.node_id:
            return
        self.remote.setdefault(nid, {})[tid] = ep
        async with self._lock:
            sb = self.sandboxes.get(nid)
            # an event handled late: the address is this node's now (released there, taken
            # here since), and the bridge must keep sending its frames to the local task
            here = any(m["IP"] == ep["IP"] for (n, _), m in self.mine.items() if n == nid)
            if sb is not None and not here:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(sb.add_remote, ep["IP"], ep["Addr"])

    async def _delete(self, key: str) -> None:
        nid, tid = key.rsplit("/", 2)[1:]
        self.all.get(nid, {}).pop(tid, None)
        ep = self.remote.get(nid, {}).pop(tid, None)
        if ep is None:
            return
        async with self._lock:
            sb = self.sandboxes.get(nid)
            if sb is not None:
                await asyncio.to_thread(sb.del_remote, ep["IP"], ep["Addr"])

    def resolve(self, cid: str, name: str) -> list[str]:
        """The embedded DNS's answer for a task's container: on the overlay networks it
        shares with them, `<service>` (and a stack's `<stack>_<service>`, its name),
        `tasks.<service>` and a network alias give the running tasks' addresses."""
        tid = self.task_of.get(cid)
        if tid is None:
            return []
        name = name.lower().rstrip(".")
        bare = name[len("tasks.") :] if name.startswith("tasks.") else name
        out: list[str] = []
        for eps in self.all.values():
            if tid not in eps:
                continue
            for ep in eps.values():
                names = {
                    ep.get("Service", "").lower(),
                    *(a.lower() for a in ep.get("Aliases") or []),
                }
                if bare in names and ep["IP"] not in out:
                    out.append(ep["IP"])
        return out

    async def renew(self) -> None:
        """The node took a new lease (its old one expired while it was cut off): its
        endpoints and addresses, gone with the old lease, are written again under the
        new one; an address another node took meanwhile is left to it (logged)."""
        for (nid, ep_id), ep in list(self.mine.items()):
            ipkey = self.objects.key("ipam", f"{nid}/{ep['IP']}")
            res = await self.objects.store.txn(
                [Compare(ipkey, "create", 0)],
                [Put(ipkey, ep_id.encode(), self.lease()),
                 Put(self.objects.key("endpoints", f"{nid}/{ep_id}"),
                     json.dumps(ep).encode(), self.lease())],
            )  # fmt: skip
            if not res.succeeded:
                log.warning("overlay %s: address %s of %s was taken meanwhile",
                            nid[:12], ep["IP"], ep_id[:12])  # fmt: skip

    async def leave(self) -> None:
        """The node leaves the swarm: its endpoints and addresses leave the store."""
        for tid in {t for tids in self.local.values() for t in tids}:
            await self.detach(tid)

    def cleanup(self, keep: set[str] | None = None) -> None:
        """Every sandbox this node made (swarm leave), but those of networks in `keep`:
        namespaces and all inside them."""
        keep = keep or set()
        for nid in [nid for nid in self.sandboxes if nid not in keep]:
            with contextlib.suppress(Exception):
                self.sandboxes.pop(nid).remove()
        kept = {os.path.basename(sb.path) for sb in self.sandboxes.values()}
        if os.path.isdir(self.root):
            for name in set(os.listdir(self.root)) - kept:
                with contextlib.suppress(Exception):
                    Sandbox(self.root, name[3:], 0, "0.0.0.0/32", "").remove()
