"""A service's endpoint in the cluster store: its virtual IPs and its ingress ports.

`--endpoint-mode vip` (the default) gives a service one address per overlay network it is
on, from that network's cluster-wide IPAM (cluster/overlay.py `allocate_ip`: a txn that
needs the address key absent, owner `vip:<service id>`), so a VIP is never handed out
twice. A port published in ingress mode (the routing mesh) puts the service on the
`ingress` network too (made once per swarm, dockerd's 10.0.0.0/24) and claims the port
swarm-wide (`ingress-ports/<proto>/<port>`, in a txn); one left at 0 gets the first free
one from 30000, as swarmkit. `dnsrr` has no VIP and cannot publish through the mesh.

Allocation happens in the manager that takes the create or update (so `service inspect`
shows it at once), release with the service's removal. The shape is Docker's:
    "Endpoint": {"Spec": {...}, "Ports": [...], "VirtualIPs": [{"NetworkID", "Addr": "10.0.1.2/24"}]}
"""

from __future__ import annotations

import contextlib
import ipaddress
from typing import Any

from dockyard.api.errors import Conflict, InvalidParameter, NotFound
from dockyard.cluster import overlay
from dockyard.cluster.model.repo import ClusterObjects
from dockyard.cluster.store import Compare, Delete, Put

INGRESS = "ingress"
INGRESS_SUBNET = "10.0.0.0/24"  # dockerd's
DYNAMIC_PORTS = range(30000, 32768)


def _rpc(desc: str) -> str:
    return f"rpc error: code = InvalidArgument desc = {desc}"


async def ensure_ingress(objects: ClusterObjects) -> dict[str, Any]:
    """The swarm's `ingress` network, made by whoever needs it first."""
    for _ in range(3):
        n = await overlay.find_network(objects, INGRESS)
        if n is not None:
            return n
        with contextlib.suppress(Conflict):
            await overlay.create_network(objects, {
                "Name": INGRESS, "Driver": "overlay", "Ingress": True,
                "IPAM": {"Config": [{"Subnet": INGRESS_SUBNET, "Gateway": "10.0.0.1"}]},
                "Labels": {},
            })  # fmt: skip
    raise Conflict("could not create the ingress network")


def ingress_ports(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in (spec.get("EndpointSpec") or {}).get("Ports") or []
            if (p.get("PublishMode") or "ingress") == "ingress"]  # fmt: skip


def network_refs(spec: dict[str, Any]) -> list[str]:
    atts = (spec.get("TaskTemplate") or {}).get("Networks") or spec.get("Networks") or []
    return [a.get("Target", "") for a in atts]


async def _claim_port(objects: ClusterObjects, svc_id: str, proto: str, port: int) -> int:
    """The port, claimed for svc_id; 0: the first free dynamic one."""
    candidates = [port] if port else list(DYNAMIC_PORTS)
    for p in candidates:
        key = objects.key("ingress-ports", f"{proto}/{p}")
        kv = await objects.store.get(key)
        if kv is not None and kv.value.decode() == svc_id:
            return p
        if kv is None:
            res = await objects.store.txn([Compare(key, "create", 0)], [Put(key, svc_id.encode())])
            if res.succeeded:
                return p
        if port:
            owner = kv.value.decode() if kv is not None else ""
            with contextlib.suppress(NotFound):
                owner_name = (await objects.get("services", owner))["Spec"]["Name"]
                raise InvalidParameter(_rpc(
                    f"port '{port}' is already in use by service '{owner_name}' ({owner}) as "
                    "an ingress port"
                ))  # fmt: skip
            raise InvalidParameter(_rpc(f"port '{port}' is already in use as an ingress port"))
    raise InvalidParameter(_rpc("could not find an available port in the dynamic range"))


async def allocate(
    objects: ClusterObjects, svc_id: str, spec: dict[str, Any], old: dict[str, Any] | None
) -> dict[str, Any]:
    """The service's Endpoint for `spec`, keeping what `old` had that still applies and
    releasing the rest."""
    espec = spec.get("EndpointSpec") or {"Mode": "vip"}
    mode = espec.get("Mode") or "vip"
    published = ingress_ports(spec)
    if published and mode == "dnsrr":
        raise InvalidParameter(_rpc(
            "EndpointSpec: port published with ingress mode can't be used with dnsrr mode"
        ))  # fmt: skip
    ports = []
    for p in espec.get("Ports") or []:
        port = {"Protocol": p.get("Protocol") or "tcp", "TargetPort": int(p.get("TargetPort") or 0),
                "PublishedPort": int(p.get("PublishedPort") or 0),
                "PublishMode": p.get("PublishMode") or "ingress"}  # fmt: skip
        if port["PublishMode"] == "ingress":
            port["PublishedPort"] = await _claim_port(
                objects, svc_id, port["Protocol"], port["PublishedPort"]
            )
        if p.get("Name"):
            port["Name"] = p["Name"]
        ports.append(port)
    nets: list[dict[str, Any]] = []
    if published:
        nets.append(await ensure_ingress(objects))
    for ref in network_refs(spec):
        n = await overlay.find_network(objects, ref)
        if n is None:
            raise InvalidParameter(_rpc(f"network {ref} not found"))
        if n["Id"] not in {x["Id"] for x in nets}:
            nets.append(n)
    kept = {v["NetworkID"]: v for v in (old or {}).get("VirtualIPs") or []}
    vips = []
    if mode == "vip":
        for n in nets:
            if n["Id"] in kept:
                vips.append(kept.pop(n["Id"]))
                continue
            ip = await overlay.allocate_ip(objects, n, f"vip:{svc_id}")
            prefix = ipaddress.ip_network(n["IPAM"]["Config"][0]["Subnet"]).prefixlen
            vips.append({"NetworkID": n["Id"], "Addr": f"{ip}/{prefix}"})
    await _release(objects, list(kept.values()),
                   [p for p in (old or {}).get("Ports") or [] if p not in ports])  # fmt: skip
    out: dict[str, Any] = {"Spec": espec}
    if ports:
        out["Ports"] = ports
    if vips:
        out["VirtualIPs"] = vips
    return out


async def _release(objects: ClusterObjects, vips: list[dict[str, Any]],
                   ports: list[dict[str, Any]]) -> None:  # fmt: skip
    ops = [Delete(objects.key("ipam", f"{v['NetworkID']}/{v['Addr'].split('/')[0]}"))
           for v in vips]  # fmt: skip
    ops += [Delete(objects.key("ingress-ports", f"{p['Protocol']}/{p['PublishedPort']}"))
            for p in ports if p.get("PublishMode") == "ingress"]  # fmt: skip
    if ops:
        await objects.store.txn([], ops)  # type: ignore[arg-type]


async def release(objects: ClusterObjects, endpoint: dict[str, Any] | None) -> None:
    """Everything the service's endpoint held: its VIPs and its ingress ports."""
    endpoint = endpoint or {}
    await _release(objects, endpoint.get("VirtualIPs") or [], endpoint.get("Ports") or [])


def with_ingress(task: dict[str, Any], svc: dict[str, Any]) -> dict[str, Any]:
    """The task as its node attaches it: on the ingress network too when its service
    publishes a port through the routing mesh (dockerd gives such tasks an ingress
    interface)."""
    if not ingress_ports(svc.get("Spec") or {}):
        return task
    spec = task.get("Spec") or {}
    return {**task, "Spec": {**spec, "Networks": [*(spec.get("Networks") or []),
                                                  {"Target": INGRESS}]}}  # fmt: skip
