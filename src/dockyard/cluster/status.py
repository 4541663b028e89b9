"""What the swarm looks like from this node: Docker's messages for a node outside a swarm
or not a manager, nodes as `docker node ls` shows them (State from the liveness keys,
the leader flag from the election key) and the Swarm section of `docker info`."""

from __future__ import annotations

from typing import Any

from dockyard.cluster.model.repo import ClusterObjects
from dockyard.cluster.orchestrator import leader as orchestrator
from dockyard.cluster.store import StoreError, election

NOT_IN_SWARM = "This node is not part of a swarm"
ALREADY = (
    'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and '
    "join another one."
)
NOT_A_MANAGER = (
    'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to '
    "connect this node to swarm and try again."
)
WORKER_NOT_MANAGER = (
    "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster "
    "state. Please run this command on a manager node or promote the current node to a manager."
)


def decorate_node(node: dict[str, Any], alive: bool, leader_id: str) -> None:
    node["Status"]["State"] = "ready" if alive else "down"
    if not alive:
        node["Status"]["Message"] = "heartbeat failure"
    ms = node.get("ManagerStatus")
    if ms is not None:
        ms["Leader"] = node["ID"] == leader_id
        ms["Reachability"] = "reachable" if alive else "unreachable"
        if not ms["Leader"]:
            ms.pop("Leader")


async def nodes(objs: ClusterObjects) -> list[dict[str, Any]]:
    found = await objs.list("nodes")
    alive = await orchestrator.alive_nodes(objs)
    lead = await election.leader(objs.store, objs.key("leader")[:-1])
    for n in found:
        decorate_node(n, n["ID"] in alive, lead.decode() if lead else "")
    return found


async def info(objs: ClusterObjects | None, state: dict[str, Any]) -> dict[str, Any]:
    """`docker info`'s Swarm section; `state` is the node's state on disk (empty: inactive)."""
    role = state.get("Role", "")
    doc: dict[str, Any] = {
        "NodeID": state.get("NodeID", ""), "NodeAddr": state.get("Addr", ""),
        "LocalNodeState": "active" if state else "inactive",
        "ControlAvailable": role == "manager", "Error": "",
        "RemoteManagers": None,
    }  # fmt: skip
    if not state or objs is None:
        doc["NodeID"] = ""
        return doc
    try:
        found = await objs.list("nodes")
        doc["RemoteManagers"] = [
            {"NodeID": n["ID"], "Addr": n["ManagerStatus"]["Addr"]}
            for n in found if n.get("ManagerStatus")
        ]  # fmt: skip
        doc["Nodes"] = len(found)
        doc["Managers"] = len(doc["RemoteManagers"])
        if role == "manager":
            swarm = await objs.get_swarm()
            if swarm is not None:
                swarm.pop("JoinTokens", None)
                doc["Cluster"] = swarm
    except StoreError as exc:
        doc["Error"] = str(exc)
    return doc
