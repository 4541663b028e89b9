"""A node following its own Spec.Role: `docker node promote|demote` change the role in the
store, and the node itself acts on it (a promoted node adds and starts its etcd member
and campaigns for the orchestrator; a demoted one stops campaigning and leaves etcd's
membership). Kept apart from `node` because it is the one place a running node changes
what it is, rather than joining or leaving."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from typing import TYPE_CHECKING, Any

from dockyard.cluster.addresses import DEFAULT_PORT
from dockyard.cluster.model.repo import OutOfSequence
from dockyard.cluster.security import rbac
from dockyard.cluster.store import election
from dockyard.cluster.store.member import remove_member

if TYPE_CHECKING:
    from dockyard.cluster.node import ClusterNode

log = logging.getLogger(__name__)


async def follow_role(node: ClusterNode) -> None:
    """`node promote|demote` change Spec.Role; the node itself joins or leaves etcd."""
    assert node.objects is not None and node.store is not None
    key = node.objects.key("nodes", node.node_id)
    _, rev = await node.store.range(key)
    async for ev in node.store.watch(key, rev + 1):
        if ev.kv.key != key or ev.type == "delete":
            continue
        role = json.loads(ev.kv.value)["Spec"].get("Role")
        if role == node.role:
            continue
        try:
            await (promote(node) if role == "manager" else demote(node))
        except Exception:
            log.exception("swarm: changing this node's role to %s failed", role)


async def set_manager_status(node: ClusterNode, status: dict[str, Any] | None) -> None:
    assert node.objects is not None
    while True:
        n = await node.objects.get("nodes", node.node_id)
        if status is None:
            n.pop("ManagerStatus", None)
        else:
            n["ManagerStatus"] = status
        try:
            await node.objects.update("nodes", n, n["Version"]["Index"])
            return
        except OutOfSequence:
            continue


async def promote(node: ClusterNode) -> None:
    assert node.store is not None
    host, port = node.state["Addr"], int(node.state.get("Port") or DEFAULT_PORT)
    if not node.external_store:
        cfg = await node.add_member(node.store, node.node_id, host, port)
        node.store.endpoints[:0] = [cfg.client_url]
        node.state.update(Member=cfg.record())
    node.state.update(Role="manager", Endpoints=list(node.store.endpoints),
                      ManagerAddr=f"{host}:{port}")  # fmt: skip
    node.save()
    assert node.objects is not None
    await node.lock.load(node.objects)  # a manager holds the data key (locked if autolocked)
    await set_manager_status(node, {"Reachability": "reachable", "Addr": f"{host}:{port}"})
    node.start_role()
    await node.serve_joins()
    log.info("swarm: this node was promoted to a manager")


async def demote(node: ClusterNode) -> None:
    assert node.store is not None and node.objects is not None
    await node.stop_role()
    await node.stop_joins()
    await set_manager_status(node, None)
    with contextlib.suppress(Exception):
        await election.resign(node.store, node.objects.key("leader")[:-1], node.lease)
    if node.member is not None:
        await remove_member(node.store, node.node_id)
        await node.member.stop()
        shutil.rmtree(node.member.config.data_dir, ignore_errors=True)
    scheme = "http" if node.external_store else "https"
    own = f"{scheme}://{node.state['Addr']}:{node.state.get('Port') or DEFAULT_PORT}"
    node.store.endpoints = [e for e in node.store.endpoints if e != own]
    if not node.external_store:  # the last thing done with etcd's root role
        with contextlib.suppress(Exception):
            await rbac.set_role(node.store, node.node_id, "worker")
    node.member = None
    node.lock.forget()
    node.state.update(Role="worker", Member=None, ManagerAddr="",
                      Endpoints=list(node.store.endpoints))  # fmt: skip
    node.save()
    await node.serve_joins()  # its tasks' logs, without joins
    log.info("swarm: this node was demoted to a worker")
