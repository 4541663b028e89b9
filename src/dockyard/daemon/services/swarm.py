"""The swarm API's operations on the cluster's objects (services, tasks, nodes, secrets,
configs, the swarm itself), validated as swarmkit's control API validates them. The
objects live in the cluster store (`cluster.model.repo`); this daemon must be a manager.
"""

from __future__ import annotations

import base64
import copy
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from dockyard.api.errors import InvalidParameter, NotFound, Unavailable
from dockyard.cluster import endpoints, overlay
from dockyard.cluster.model import objects
from dockyard.cluster.model.repo import ClusterObjects, OutOfSequence
from dockyard.cluster.node import ClusterNode
from dockyard.cluster.scheduler import constraints
from dockyard.cluster.security import rbac
from dockyard.cluster.store import Delete, EtcdStore, Put, StoreError

MAX_SECRET = 500 * 1024


def _rpc(code: str, desc: str) -> str:
    return f"rpc error: code = {code} desc = {desc}"


def _match_filters(obj: dict[str, Any], kind: str, filters: dict[str, list[str]]) -> bool:
    name = objects_name(kind, obj)
    for key, values in filters.items():
        if key == "id" and not any(obj["ID"].startswith(v) for v in values):
            return False
        if key == "name" and not any(name.startswith(v) for v in values):
            return False
        if key == "names" and name not in values:
            return False
        if key in ("label", "node.label"):
            labels = (obj.get("Spec") or {}).get("Labels") or {}
            for v in values:
                k, eq, val = v.partition("=")
                if k not in labels or (eq and labels[k] != val):
                    return False
        if key == "role" and obj["Spec"].get("Role") not in values:
            return False
        if key == "mode":
            mode = "replicated" if "Replicated" in obj["Spec"].get("Mode", {}) else "global"
            if mode not in values:
                return False
    return True


def objects_name(kind: str, obj: dict[str, Any]) -> str:
    if kind == "nodes":
        return str(obj["Description"]["Hostname"])
    return str((obj.get("Spec") or {}).get("Name") or "")


class SwarmService:
    def __init__(self, node: ClusterNode) -> None:
        self.node = node

    def _objs(self) -> ClusterObjects:
        return self.node.require_manager()

    def _rbac(self) -> EtcdStore | None:
        """The store whose users and roles this swarm manages (embedded members only)."""
        store = self._objs().store
        return store if isinstance(store, EtcdStore) and not self.node.external_store else None

    # ---- the swarm ---------------------------------------------------------------------
    async def inspect(self) -> dict[str, Any]:
        swarm = await self._objs().get_swarm()
        if swarm is None:
            raise NotFound("swarm not found")
        return swarm

    async def update(self, version: int, spec: dict[str, Any], rotate: set[str]) -> None:
        objs = self._objs()
        swarm = await self.inspect()
        if version != swarm["Version"]["Index"]:
            raise OutOfSequence()
        swarm["Spec"] = objects.swarm_spec(spec)
        swarm["UpdatedAt"] = objects.now()
        digest = swarm["JoinTokens"]["Worker"].split("-")[2]
        for role in rotate & {"Worker", "Manager"}:
            swarm["JoinTokens"][role] = objects.join_token(digest)
        await objs.update_swarm(swarm, version)
        autolock = bool((swarm["Spec"].get("EncryptionConfig") or {}).get("AutoLockManagers"))
        await self.node.lock.set_autolock(objs, autolock, "UnlockKey" in rotate)

    async def unlock_key(self) -> str:
        return await self.node.lock.unlock_key(self._objs())

    # ---- services ----------------------------------------------------------------------
    async def _validate_service(self, spec: dict[str, Any]) -> dict[str, Any]:
        """A nameless spec gets a random name at create (the key is absent); an update
        passes Name "" through so a rename to nothing is refused."""
        tt = spec.get("TaskTemplate") or {}
        cs = tt.get("ContainerSpec") or {}
        if not cs.get("Image"):
            raise InvalidParameter(
                _rpc("InvalidArgument", "ContainerSpec: image reference must be provided")
            )
        constraints.validate(list((tt.get("Placement") or {}).get("Constraints") or []))
        mode = spec.get("Mode") or {}
        rep = (mode.get("Replicated") or {}).get("Replicas")
        if rep is not None and int(rep) < 0:
            raise InvalidParameter(_rpc("InvalidArgument", "replicas must be non-negative"))
        objs = self._objs()
        for kind, refs in (("secrets", cs.get("Secrets")), ("configs", cs.get("Configs"))):
            for ref in refs or []:
                key = "SecretID" if kind == "secrets" else "ConfigID"
                name = ref.get("SecretName" if kind == "secrets" else "ConfigName") or ref.get(key)
                try:
                    await objs.get(kind, ref.get(key) or "")
                except NotFound:
                    raise InvalidParameter(
                        _rpc("InvalidArgument", f"{kind[:-1]} reference {name} not found")
                    ) from None
        await overlay.resolve_networks(objs, tt)
        if "Name" not in spec:
            spec = {**spec, "Name": _random_name()}
        return objects.service_spec(spec)

    async def create_service(self, spec: dict[str, Any]) -> str:
        if not spec.get("Name"):
            spec = {k: v for k, v in spec.items() if k != "Name"}
        spec = await self._validate_service(spec)
        svc = objects.service(spec)
        objs = self._objs()
        svc["Endpoint"] = await endpoints.allocate(objs, svc["ID"], spec, None)
        try:
            await objs.create("services", svc)
        except BaseException:
            await endpoints.release(objs, svc["Endpoint"])
            raise
        return str(svc["ID"])

    async def services(self, filters: dict[str, list[str]], status: bool) -> list[dict[str, Any]]:
        objs = self._objs()
        out = [s for s in await objs.list("services") if _match_filters(s, "services", filters)]
        if status:
            tasks = await objs.list("tasks")
            nodes = {n["ID"]: n for n in await self.node.nodes()}
            for s in out:
                s["ServiceStatus"] = service_status(s, tasks, nodes)
        return out

    async def service(self, ref: str) -> dict[str, Any]:
        return await self._objs().get("services", ref)

    async def update_service(self, ref: str, version: int, spec: dict[str, Any],
                             rollback: bool = False) -> None:  # fmt: skip
        objs = self._objs()
        svc = await objs.get("services", ref)
        if version != svc["Version"]["Index"]:  # swarmkit checks the version first
            raise OutOfSequence()
        if rollback:
            if not svc.get("PreviousSpec"):
                raise InvalidParameter(
                    _rpc("FailedPrecondition", f"service {svc['ID']} does not have a previous spec")
                )
            spec = svc["PreviousSpec"]
        spec = await self._validate_service({"Name": "", **spec})
        if spec["Name"] != svc["Spec"]["Name"]:
            raise InvalidParameter(_rpc("Unimplemented", "renaming services is not supported"))
        new = copy.deepcopy(svc)
        new["PreviousSpec"] = svc["Spec"]
        new["Spec"] = spec
        new["UpdatedAt"] = objects.now()
        new["Endpoint"] = await endpoints.allocate(objs, svc["ID"], spec, svc.get("Endpoint"))
        if spec.get("TaskTemplate") != svc["Spec"].get("TaskTemplate"):
            new["UpdateStatus"] = {
                "State": "rollback_started" if rollback else "updating",
                "StartedAt": new["UpdatedAt"],
                "Message": "manually requested rollback" if rollback else "update in progress",
            }
        await objs.update("services", new, version)

    async def remove_service(self, ref: str) -> None:
        objs = self._objs()
        svc = await objs.get("services", ref)
        await objs.delete("services", svc)
        await endpoints.release(objs, svc.get("Endpoint"))

    # ---- tasks ---------------------------------------------------------------------------
    async def tasks(self, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        objs = self._objs()
        tasks = await objs.list("tasks")
        if "service" in filters:
            ids = set()
            for ref in filters["service"]:
                try:
                    ids.add((await objs.get("services", ref))["ID"])
                except NotFound:
                    pass
            tasks = [t for t in tasks if t["ServiceID"] in ids]
        if "node" in filters:
            nodes = await objs.list("nodes")
            ids = {n["ID"] for n in nodes for ref in filters["node"]
                   if n["ID"].startswith(ref) or n["Description"]["Hostname"] == ref}  # fmt: skip
            tasks = [t for t in tasks if t.get("NodeID") in ids]
        if "desired-state" in filters:
            tasks = [t for t in tasks if t["DesiredState"] in filters["desired-state"]]
        if "id" in filters:
            tasks = [t for t in tasks if any(t["ID"].startswith(v) for v in filters["id"])]
        if "label" in filters:  # swarmkit matches the service's labels (stack ps asks so)
            labels = {s["ID"]: s["Spec"].get("Labels") or {} for s in await objs.list("services")}
            tasks = [t for t in tasks if _match_filters(
                {"ID": t["ID"], "Spec": {"Labels": labels.get(t["ServiceID"], {})}}, "tasks",
                {"label": filters["label"]})]  # fmt: skip
        return tasks

    async def task(self, ref: str) -> dict[str, Any]:
        return await self._objs().get("tasks", ref)

    # ---- nodes ---------------------------------------------------------------------------
    async def nodes(self, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        nodes = await self.node.nodes()
        return [n for n in nodes if _match_filters(n, "nodes", filters)]

    async def inspect_node(self, ref: str) -> dict[str, Any]:
        objs = self._objs()
        want = await objs.get("nodes", ref)
        for n in await self.node.nodes():
            if n["ID"] == want["ID"]:
                return n
        raise NotFound(f"node {ref} not found")

    async def update_node(self, ref: str, version: int, spec: dict[str, Any]) -> None:
        objs = self._objs()
        n = await objs.get("nodes", ref)
        if spec.get("Availability") not in (None, "", "active", "pause", "drain"):
            raise InvalidParameter(_rpc("InvalidArgument", "invalid availability"))
        if spec.get("Role") not in (None, "", "worker", "manager"):
            raise InvalidParameter(_rpc("InvalidArgument", "invalid role"))
        if spec.get("Role") == "worker" and n["Spec"]["Role"] == "manager":
            managers = [m for m in await objs.list("nodes") if m["Spec"]["Role"] == "manager"]
            if len(managers) <= 1:
                raise InvalidParameter(_rpc(
                    "FailedPrecondition", "attempting to demote the last manager of the swarm"
                ))  # fmt: skip
        n["Spec"] = {"Labels": spec.get("Labels") or {}, "Role": spec.get("Role") or "worker",
                     "Availability": spec.get("Availability") or "active",
                     **({"Name": spec["Name"]} if spec.get("Name") else {})}  # fmt: skip
        n["UpdatedAt"] = objects.now()
        if self._rbac() and n["Spec"]["Role"] == "manager":  # before the node acts on it
            await rbac.set_role(self._rbac(), n["ID"], "manager")
        await objs.update("nodes", n, version)

    async def remove_node(self, ref: str, force: bool) -> None:
        objs = self._objs()
        n = await self.inspect_node(ref)
        if n["Status"]["State"] != "down" and not force:
            raise InvalidParameter(_rpc(
                "FailedPrecondition",
                f"node {n['ID']} is not down and can't be removed",
            ))  # fmt: skip
        if n["ID"] == self.node.node_id:
            raise InvalidParameter(
                _rpc("FailedPrecondition", "node is not down and can't be removed")
            )
        await objs.delete("nodes", n, [Delete(objs.key("alive", n["ID"]))])
        if self._rbac():
            await rbac.remove_node(self._rbac(), n["ID"])

    # ---- secrets and configs -------------------------------------------------------------
    async def create_secret(self, kind: str, spec: dict[str, Any]) -> str:
        objs = self._objs()
        name = spec.get("Name") or ""
        if not name:
            raise InvalidParameter(
                _rpc("InvalidArgument", "name must be valid as a DNS name component")
            )
        try:
            data = base64.b64decode(spec.get("Data") or "", validate=True)
        except ValueError:
            raise InvalidParameter(f"invalid {kind[:-1]} data") from None
        if kind == "secrets" and not (0 < len(data) < MAX_SECRET):
            raise InvalidParameter(
                _rpc("InvalidArgument", "secret data must be larger than 0 and less than 500 KiB")
            )
        if kind == "configs" and len(data) >= MAX_SECRET:
            raise InvalidParameter(
                _rpc("InvalidArgument", "config data must be larger than 0 and less than 500 KiB")
            )
        obj = objects.secret(spec, keep_data=kind == "configs")
        sealed = self.node.lock.require_unlocked().seal(data) if kind == "secrets" else b""
        extra = [Put(objs.key("secret-data", obj["ID"]), sealed)] if kind == "secrets" else []
        await objs.create(kind, obj, extra)
        return str(obj["ID"])

    async def secrets(self, kind: str, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        return [s for s in await self._objs().list(kind) if _match_filters(s, kind, filters)]

    async def secret(self, kind: str, ref: str) -> dict[str, Any]:
        return await self._objs().get(kind, ref)

    async def update_secret(self, kind: str, ref: str, version: int, spec: dict[str, Any]) -> None:
        objs = self._objs()
        s = await objs.get(kind, ref)
        if spec.get("Data") and spec["Data"] != s["Spec"].get("Data", spec["Data"]):
            raise InvalidParameter(_rpc(
                "InvalidArgument", "only updates to Labels are allowed"
            ))  # fmt: skip
        s["Spec"]["Labels"] = spec.get("Labels") or {}
        s["UpdatedAt"] = objects.now()
        await objs.update(kind, s, version)

    async def remove_secret(self, kind: str, ref: str) -> None:
        objs = self._objs()
        s = await objs.get(kind, ref)
        key = "SecretID" if kind == "secrets" else "ConfigID"
        users = [
            svc["Spec"]["Name"] for svc in await objs.list("services")
            if any(r.get(key) == s["ID"] for r in
                   ((svc["Spec"].get("TaskTemplate") or {}).get("ContainerSpec") or {})
                   .get(kind.capitalize()) or [])
        ]  # fmt: skip
        if users:
            raise InvalidParameter(_rpc(
                "InvalidArgument",
                f"{kind[:-1]} '{s['Spec']['Name']}' is in use by the following service"
                f"{'s' if len(users) > 1 else ''}: {', '.join(sorted(users))}",
            ))  # fmt: skip
        extra = [Delete(objs.key("secret-data", s["ID"]))] if kind == "secrets" else []
        await objs.delete(kind, s, extra)


NO_LEADER = (
    "rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that "
    "too few managers are online. Make sure more than half of the managers are online."
)


def _no_leader(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """A store without quorum (or out of reach) is dockerd's "no leader" (503), not a 500."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except StoreError:
            raise Unavailable(NO_LEADER) from None

    return wrapper


for _name, _fn in list(vars(SwarmService).items()):
    if not _name.startswith("_") and inspect.iscoroutinefunction(_fn):
        setattr(SwarmService, _name, _no_leader(_fn))


def service_status(svc: dict[str, Any], tasks: list[dict[str, Any]],
                   nodes: dict[str, dict[str, Any]]) -> dict[str, int]:  # fmt: skip
    """ServiceStatus as dockerd computes it for `service ls`."""
    mine = [t for t in tasks if t["ServiceID"] == svc["ID"]]
    running = sum(1 for t in mine if t["Status"]["State"] == "running"
                  and t["DesiredState"] == "running")  # fmt: skip
    desired = objects.replicas(svc)
    if desired is None:
        desired = sum(
            1 for n in nodes.values()
            if n["Status"]["State"] == "ready" and n["Spec"].get("Availability") != "drain"
        )  # fmt: skip
    completed = sum(1 for t in mine if t["Status"]["State"] == "complete")
    return {"RunningTasks": running, "DesiredTasks": desired, "CompletedTasks": completed}


def _random_name() -> str:
    from dockyard.daemon.services import names

    return names.random_name(set()).lstrip("/")
