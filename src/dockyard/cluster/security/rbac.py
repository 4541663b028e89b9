"""Per-node authorisation in the cluster store, with etcd's own RBAC.

Chosen over "workers talk only to a manager's API" because the agent's design (it
watches tasks/ and writes its own task-status/) stays as it is and etcd itself refuses
what a node may not do: no second authority to keep right. Each node is an etcd user
named by its node id (password issued at join); managers hold etcd's `root` role.
A worker's role (`node-<id>`) grants:
  - read on the whole swarm prefix (so its watches work), which holds neither the Swarm
    object with its join tokens nor the managers' keys: those live under the private
    prefix (`repo.ClusterObjects.private`), root only;
  - readwrite on its own `alive/<id>`, `agents/<id>` and `task-status/<id>/`;
  - readwrite on the overlay's `endpoints/` and `ipam/` and the mesh's `health/`: their
    keys are per network and task, not per node, so a node cannot be confined to its
    own there (left as is).
Workers never write nodes/, tasks/, services/ or another node's status.
"""

from __future__ import annotations

import base64
import secrets

from dockyard.cluster.store.etcd import EtcdStore, prefix_end

ROOT = "root"


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def new_password() -> str:
    return secrets.token_urlsafe(24)


def _perm(kind: str, key: str, range_end: str | None) -> dict[str, object]:
    perm: dict[str, object] = {"permType": kind, "key": _b64(key)}
    if range_end is not None:
        perm["range_end"] = range_end
    return {"name": "", "perm": perm}


def worker_perms(prefix: str, node_id: str) -> list[tuple[str, str, str | None]]:
    """(READ|READWRITE, key, base64 range end or None for the one key)."""
    return [
        ("READ", prefix, prefix_end(prefix)),
        ("READWRITE", f"{prefix}alive/{node_id}", None),
        ("READWRITE", f"{prefix}agents/{node_id}", None),
        ("READWRITE", f"{prefix}task-status/{node_id}/", prefix_end(f"{prefix}task-status/{node_id}/")),
        ("READWRITE", f"{prefix}endpoints/", prefix_end(f"{prefix}endpoints/")),
        ("READWRITE", f"{prefix}ipam/", prefix_end(f"{prefix}ipam/")),
        ("READWRITE", f"{prefix}health/", prefix_end(f"{prefix}health/")),
    ]  # fmt: skip


async def enable(store: EtcdStore, manager_id: str, password: str) -> None:
    """At init, before auth is on: the first manager's user (root role), then auth on.
    etcd needs a `root` user to exist; its password is random and kept by no one."""
    await store.auth("user/add", {"name": ROOT, "password": new_password()})
    await store.auth("user/grant", {"user": ROOT, "role": ROOT})
    await store.auth("user/add", {"name": manager_id, "password": password})
    await store.auth("user/grant", {"user": manager_id, "role": ROOT})
    await store.auth("enable", {})


async def add_node(store: EtcdStore, prefix: str, node_id: str, password: str, role: str) -> None:
    await store.auth("user/add", {"name": node_id, "password": password})
    await store.auth("role/add", {"name": f"node-{node_id}"})
    for kind, key, end in worker_perms(prefix, node_id):
        body = _perm(kind, key, end)
        body["name"] = f"node-{node_id}"
        await store.auth("role/grant", body)
    await store.auth("user/grant", {"user": node_id, "role": f"node-{node_id}"})
    if role == "manager":
        await set_role(store, node_id, "manager")


async def set_role(store: EtcdStore, node_id: str, role: str) -> None:
    """Promote: the user gets etcd's root role; demote: it loses it."""
    if role == "manager":
        await store.auth("user/grant", {"user": node_id, "role": ROOT})
        return
    try:
        await store.auth("user/revoke", {"name": node_id, "role": ROOT})
    except Exception as exc:  # not granted: nothing to take away
        if "not granted" not in str(exc):
            raise


async def remove_node(store: EtcdStore, node_id: str) -> None:
    for op, body in (
        ("user/delete", {"name": node_id}),
        ("role/delete", {"role": f"node-{node_id}"}),
    ):
        try:
            await store.auth(op, body)
        except Exception as exc:
            if "not found" not in str(exc):
                raise
