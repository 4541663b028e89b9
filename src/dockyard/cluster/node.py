"""This daemon's membership of a swarm: init, join and leave, what it keeps on disk to
come back after a restart (`<data-root>/swarm/state.json`), its embedded etcd member
(managers), its liveness lease, its agent, and, while elected, the orchestrator.

The swarm port (2377 by default) serves etcd's client API and the port after it etcd's
peer API; the remote address a joiner names is therefore the store's endpoint.
Beside it: `addresses` (which address to advertise), `roles` (promote/demote of a
running node), `status` (node views, `docker info`, the messages).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dockyard.api.errors import InvalidParameter, Unavailable
from dockyard.cluster import roles, status, tasklogs
from dockyard.cluster.addresses import DEFAULT_PORT, advertise_addr, split_addr
from dockyard.cluster.agent.agent import TASK_LABEL, Agent
from dockyard.cluster.agent.protocol import TaskContainers
from dockyard.cluster.endpoints import ensure_ingress
from dockyard.cluster.mesh import ServiceMesh
from dockyard.cluster.model import objects
from dockyard.cluster.model.repo import ClusterObjects
from dockyard.cluster.orchestrator import leader as orchestrator
from dockyard.cluster.overlay import OverlayAgent
from dockyard.cluster.security import keys, pki, rbac
from dockyard.cluster.security.join import (
    INVALID_TOKEN,
    TIMEOUT,
    JoinService,
    fetch_secret,
    request_join,
)
from dockyard.cluster.security.lock import LOCKED, SwarmLock
from dockyard.cluster.status import ALREADY, NOT_A_MANAGER, NOT_IN_SWARM, WORKER_NOT_MANAGER
from dockyard.cluster.store import Compare, EtcdStore, StoreError, election
from dockyard.cluster.store.etcd import Credentials
from dockyard.cluster.store.member import EtcdMember, MemberConfig, member_add, remove_member

log = logging.getLogger(__name__)

LEASE_TTL = 3  # seconds: a node silent this long is down and its tasks are replaced
REJOIN_WAIT = 8  # seconds a daemon's start waits for its swarm to be back
REJOINING = "This node is rejoining the swarm after a restart; try again in a moment"


@dataclass(frozen=True)
class Engine:
    """What a node tells the swarm about itself."""

    hostname: str
    version: str
    ncpu: int
    memory: int


class ClusterNode:
    def __init__(
        self,
        state_dir: str,
        containers: TaskContainers,
        engine: Engine,
        external_store: list[str] | None = None,
    ) -> None:
        """`external_store`: etcd endpoints of a cluster the user runs (--cluster-store);
        then no manager starts an etcd member of its own."""
        self.external_store = external_store or []
        self.state_dir = state_dir
        self.containers = containers
        self.engine = engine
        self.state: dict[str, Any] = {}
        self.store: EtcdStore | None = None
        self.objects: ClusterObjects | None = None
        self.member: EtcdMember | None = None
        self.lease = 0
        self.is_leader = False
        self._loops: list[asyncio.Task[None]] = []
        self._role: asyncio.Task[None] | None = None
        self.overlay: OverlayAgent | None = None
        self.mesh: ServiceMesh | None = None
        self.left: list[Callable[[], Awaitable[None]]] = []  # run after a leave
        self.join_service: JoinService | None = None
        self.lock = SwarmLock()
        self._rejoining: asyncio.Task[None] | None = None

    # ---- state on disk -----------------------------------------------------------------
    @property
    def state_file(self) -> str:
        return os.path.join(self.state_dir, "state.json")

    @property
    def active(self) -> bool:
        return bool(self.state)

    @property
    def role(self) -> str:
        return str(self.state.get("Role", ""))

    @property
    def node_id(self) -> str:
        return str(self.state.get("NodeID", ""))

    @property
    def tls(self) -> pki.NodeTLS:
        return pki.NodeTLS(os.path.join(self.state_dir, "tls"))

    def save(self) -> None:
        """0600: the state holds this node's store password."""
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        tmp = self.state_file + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.state, f)
        os.replace(tmp, self.state_file)

    async def restore(self) -> None:
        """Rejoins the swarm this daemon was part of before it stopped."""
        try:
            with open(self.state_file) as f:
                self.state = json.load(f)
        except FileNotFoundError:
            return
        self._connect(self.state["Endpoints"], self.node_id, self.state.get("Password", ""))
        self._rejoining = asyncio.create_task(self._rejoin())
        # a member that rejoins a busy cluster can take a while to be healthy: the daemon
        # serves its API meanwhile (swarm calls answer REJOINING until it is done)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._rejoining), REJOIN_WAIT)

    async def _rejoin(self) -> None:
        try:
            if self.state.get("Member"):
                self.member = EtcdMember(
                    MemberConfig(**{**self.state["Member"], "existing": True}), self._etcd_log()
                )
                await self.member.start(timeout=120)
            await self._activate()
        except Exception as exc:
            log.error("could not rejoin the swarm: %s", exc)

    def _etcd_log(self) -> str:
        return os.path.join(self.state_dir, "etcd.log")

    def _connect(self, endpoints: list[str], user: str = "", password: str = "") -> None:
        """Embedded members: TLS with this node's certificate, as its etcd user."""
        creds = None
        if not self.external_store:
            tls = self.tls
            creds = Credentials(tls.ca, tls.client_cert, tls.key, user, password)
        self.store = EtcdStore(endpoints, creds)
        self.objects = ClusterObjects(self.store)

    # ---- init / join / leave ------------------------------------------------------------
    async def init(self, req: dict[str, Any]) -> str:
        if self.active:
            raise Unavailable(ALREADY)
        host, port = advertise_addr(req)
        node_id = objects.new_id()
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        member: dict[str, Any] | None = None
        endpoints = list(self.external_store)
        ca: pki.CA | None = None
        password = ""
        if not endpoints:
            ca = pki.CA.create()
            ca.save(os.path.join(self.state_dir, "ca"))
            ca.issue_files(self.tls, node_id, "manager", [host, "127.0.0.1"])
            cfg = MemberConfig(name=node_id, data_dir=os.path.join(self.state_dir, "etcd"),
                               host=host, client_port=port, peer_port=port + 1,
                               tls_dir=self.tls.directory)  # fmt: skip
            shutil.rmtree(cfg.data_dir, ignore_errors=True)
            self.member = EtcdMember(cfg, self._etcd_log())
            await self.member.start()
            endpoints, member = [cfg.client_url], cfg.record()
        try:
            self._connect(endpoints)
            assert self.objects is not None
            if await self.objects.get_swarm() is not None:
                raise Unavailable(
                    "the cluster store already holds a swarm: join it with its join token"
                )
            spec = dict(req.get("Spec") or {})
            if req.get("AutoLockManagers"):
                spec.setdefault("EncryptionConfig", {})["AutoLockManagers"] = True
            swarm = objects.swarm(
                spec, default_addr_pool=req.get("DefaultAddrPool") or [],
                subnet_size=int(req.get("SubnetSize") or 0),
                data_path_port=int(req.get("DataPathPort") or 0),
                ca_digest=pki.digest(ca.pem) if ca else "",
                trust_root=ca.pem.decode() if ca else "",
            )  # fmt: skip
            await self.objects.create_swarm(swarm)
            await ensure_ingress(self.objects)  # as dockerd: `network ls` shows it at once
            node = self._node_object(node_id, "manager", host, f"{host}:{port}")
            if req.get("Availability"):
                node["Spec"]["Availability"] = req["Availability"]
            await self.objects.create("nodes", node)
            await self.lock.create(self.objects, bool(req.get("AutoLockManagers")))
            if ca is not None:  # from here on the store knows who asks
                await keys.put_ca(self.objects, ca)
                assert self.store is not None
                password = rbac.new_password()
                await rbac.enable(self.store, node_id, password)
                await self.store.close()
                self._connect(endpoints, node_id, password)
        except BaseException:
            if self.member is not None:
                await self.member.stop()
                self.member = None
            if self.store is not None:
                await self.store.close()
            raise
        self.state = {
            "NodeID": node_id, "Role": "manager", "Addr": host, "Port": port,
            "ManagerAddr": f"{host}:{port}", "Endpoints": endpoints, "Member": member,
            "Password": password,
        }  # fmt: skip
        self.save()
        await self._activate()
        return node_id

    def _node_object(self, node_id: str, role: str, addr: str, manager_addr: str) -> dict[str, Any]:
        return objects.node(
            node_id, role=role, addr=addr, manager_addr=manager_addr,
            hostname=self.engine.hostname, engine_version=self.engine.version,
            ncpu=self.engine.ncpu, memory=self.engine.memory,
        )  # fmt: skip

    async def join(self, req: dict[str, Any]) -> None:
        if self.active:
            raise Unavailable(ALREADY)
        remotes = req.get("RemoteAddrs") or []
        if not remotes:
            raise InvalidParameter("at least 1 RemoteAddr is required to join")
        if self.external_store:
            await self._join_external(req)
            return
        token = str(req.get("JoinToken") or "")
        key = pki.new_key()
        last: Exception | None = None
        grant: dict[str, Any] = {}
        for remote in remotes:
            manager = split_addr(remote, DEFAULT_PORT)
            host, port = advertise_addr(req, manager[0])
            body = {"addr": host, "port": port, "hostname": self.engine.hostname,
                    "version": self.engine.version, "ncpu": self.engine.ncpu,
                    "memory": self.engine.memory, "availability": req.get("Availability") or ""}  # fmt: skip
            try:
                grant = await request_join(manager, token, body, pki.key_pem(key), pki.csr_pem(key))
                break
            except Unavailable as exc:  # that manager is away: the next one
                last = exc
        if not grant:
            assert last is not None
            raise last
        node_id, role = grant["NodeID"], grant["Role"]
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        self.tls.write(grant["CA"].encode(), grant["Cert"].encode(),
                       grant["ClientCert"].encode(), pki.key_pem(key))  # fmt: skip
        endpoints = list(grant["Endpoints"])
        member: dict[str, Any] | None = None
        self._connect(endpoints, node_id, grant["Password"])
        if grant.get("DataKey"):  # a manager joining an autolocked swarm is not locked
            self.lock.data_key = keys.DataKey(base64.b64decode(grant["DataKey"]))
        if role == "manager":
            assert self.store is not None
            cfg = await self.add_member(self.store, node_id, host, port)
            self.store.endpoints[:0] = [cfg.client_url]
            endpoints, member = list(self.store.endpoints), cfg.record()
        self.state = {"NodeID": node_id, "Role": role, "Addr": host, "Port": port,
                      "ManagerAddr": f"{host}:{port}" if member else "",
                      "Endpoints": endpoints, "Member": member,
                      "Password": grant["Password"]}  # fmt: skip
        self.save()
        await self._activate()

    async def _join_external(self, req: dict[str, Any]) -> None:
        """With --cluster-store the user's etcd is the way in: the token is checked
        against the swarm it holds (no CA, no per-node users: the user secures that etcd)."""
        remotes = req.get("RemoteAddrs") or []
        store = EtcdStore(self.external_store)
        try:
            swarm = await ClusterObjects(store).get_swarm()
        except StoreError:
            await store.close()
            raise Unavailable(TIMEOUT) from None
        token = req.get("JoinToken") or ""
        tokens = (swarm or {}).get("JoinTokens") or {}
        await store.close()
        if swarm is None or token not in (tokens.get("Worker"), tokens.get("Manager")):
            raise InvalidParameter(INVALID_TOKEN)
        role = "manager" if token == tokens.get("Manager") else "worker"
        host, port = advertise_addr(req, split_addr(remotes[0], DEFAULT_PORT)[0])
        node_id = objects.new_id()
        self._connect(list(self.external_store))
        assert self.objects is not None
        node = self._node_object(node_id, role, host, f"{host}:{port}")
        if role == "worker":
            node.pop("ManagerStatus", None)
        if req.get("Availability"):
            node["Spec"]["Availability"] = req["Availability"]
        await self.objects.create("nodes", node)
        self.state = {"NodeID": node_id, "Role": role, "Addr": host, "Port": port,
                      "ManagerAddr": f"{host}:{port}" if role == "manager" else "",
                      "Endpoints": list(self.external_store), "Member": None}  # fmt: skip
        self.save()
        await self._activate()

    async def add_member(
        self, store: EtcdStore, node_id: str, host: str, port: int
    ) -> MemberConfig:
        """This node's etcd member, added to the cluster through the member API and started."""
        cfg = MemberConfig(name=node_id, data_dir=os.path.join(self.state_dir, "etcd"),
                           host=host, client_port=port, peer_port=port + 1,
                           tls_dir="" if self.external_store else self.tls.directory)  # fmt: skip
        members = await member_add(store, cfg.peer_url)
        initial = ",".join(f"{m.get('name') or node_id}={m['peerURLs'][0]}" for m in members)
        cfg = MemberConfig(**{**cfg.record(), "initial_cluster": initial, "existing": True})
        shutil.rmtree(cfg.data_dir, ignore_errors=True)
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        self.member = EtcdMember(cfg, self._etcd_log())
        await self.member.start(timeout=60)
        return cfg

    async def leave(self, force: bool) -> None:
        if not self.active:
            raise Unavailable(NOT_IN_SWARM)
        managers = 1
        if self.role == "manager" and self.objects is not None:
            with contextlib.suppress(Exception):
                nodes = await self.objects.list("nodes")
                managers = sum(1 for n in nodes if n["Spec"].get("Role") == "manager")
        if self.role == "manager" and not force:
            if managers <= 1:
                raise Unavailable(
                    "You are attempting to leave the swarm on a node that is participating as "
                    "a manager. Removing the last manager erases all current state of the "
                    "swarm. Use `--force` to ignore this message."
                )
            raise Unavailable(
                "You are attempting to leave the swarm on a node that is participating as a "
                f"manager. Removing this node leaves {managers - 1} managers out of {managers}. "
                "Without a Raft quorum your swarm will be inaccessible. The only way to restore "
                "a swarm that has lost consensus is to reinitialize it with "
                "`--force-new-cluster`. Use `--force` to suppress this message."
            )
        await self._deactivate()
        for cid in self.containers.by_label(TASK_LABEL).values():
            with contextlib.suppress(Exception):
                await self.containers.remove(cid)
        if self.overlay is not None:
            with contextlib.suppress(Exception):
                await self.mesh.leave()  # type: ignore[union-attr]
            with contextlib.suppress(Exception):
                await self.overlay.leave()
            self.overlay.cleanup()
            self.overlay = None
        if self.store is not None:
            with contextlib.suppress(Exception):
                await self.store.revoke(self.lease)
            if self.external_store and managers <= 1 and self.objects is not None:
                # the last manager leaves: the swarm's state goes with it, as with dockerd
                with contextlib.suppress(Exception):
                    await self.store.delete(self.objects.prefix, prefix=True)
                    await self.store.delete(self.objects.private, prefix=True)
            if self.member is not None and managers > 1:
                with contextlib.suppress(Exception):
                    await remove_member(self.store, self.node_id)
            await self.store.close()
        if self.member is not None:
            await self.member.stop()
        self.member = None
        self.store = self.objects = None
        self.state = {}
        self.lock.forget()
        shutil.rmtree(self.state_dir, ignore_errors=True)
        for hook in self.left:  # the daemon's own leftovers (docker_gwbridge)
            with contextlib.suppress(Exception):
                await hook()

    async def shutdown(self) -> None:
        """The daemon stops: the swarm state stays on disk for the next start."""
        await self._deactivate()
        if self.store is not None:
            await self.store.close()
        if self.member is not None:
            await self.member.stop()

    # ---- the loops -----------------------------------------------------------------------
    async def _activate(self) -> None:
        assert self.objects is not None and self.store is not None
        self.lease = await self.store.grant(LEASE_TTL)
        await self.store.put(self.objects.key("alive", self.node_id), b"1", lease=self.lease)
        node = await self.objects.get("nodes", self.node_id)
        self.overlay = OverlayAgent(self.objects, self.node_id, node["Status"]["Addr"],
                                    os.path.join(self.state_dir, "overlay"),
                                    lease=lambda: self.lease)  # fmt: skip
        agent = Agent(self.objects, self.containers, self.node_id, self.overlay,
                      self.secret_value)  # fmt: skip
        self.mesh = ServiceMesh(self.objects, self.containers, self.node_id, self.overlay)
        self._loops = [
            asyncio.create_task(self._heartbeat()),
            asyncio.create_task(agent.run()),
            asyncio.create_task(self.overlay.run()),
            asyncio.create_task(self.mesh.run()),
            asyncio.create_task(roles.follow_role(self)),
        ]
        if self.role == "manager":
            await self.lock.load(self.objects)
        self.start_role()
        await self.serve_joins()

    async def serve_joins(self) -> None:
        """Every node of an embedded store serves its tasks' logs to managers on its TLS
        service; unlocked managers also let nodes join through it."""
        if self.external_store or self.objects is None:
            return
        joins = self.role == "manager" and not self.lock.locked
        if self.join_service is not None:
            if (self.join_service.ca is not None) == joins:
                return
            await self.stop_joins()  # promoted, demoted or unlocked: serve anew
        try:
            ca = await keys.load_ca(self.objects) if joins else None
            extra = {"/tasks/{id}/logs": tasklogs.handler(self.objects, self.containers,
                                                          self.node_id)}  # fmt: skip
            svc = JoinService(self.objects, ca, self.tls, self.state["Addr"],
                              int(self.state["Port"]), self.lock, extra)  # fmt: skip
            await svc.start()
            self.join_service = svc
            await self.objects.store.put(self.objects.key("agents", self.node_id),
                                         f"{svc.host}:{svc.port}".encode())  # fmt: skip
        except Exception:
            log.exception("swarm: cannot serve this node's TLS service")

    async def stop_joins(self) -> None:
        if self.join_service is not None:
            await self.join_service.stop()
            self.join_service = None

    def start_role(self) -> None:
        if self.role == "manager":
            self._role = asyncio.create_task(self._manage(self.lease))

    async def stop_role(self) -> None:
        if self._role is not None:
            self._role.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._role
            self._role = None

    async def _manage(self, lease: int) -> None:
        assert self.objects is not None
        key = self.objects.key("leader")[:-1]
        await election.campaign(self.objects.store, key, self.node_id.encode(), lease)
        self.is_leader = True
        log.info("swarm: this node leads the orchestrator and scheduler")
        try:
            await orchestrator.run(self.objects, Compare(key, "value", self.node_id.encode()))
        except orchestrator.LostLeadership:
            log.warning("swarm: another manager leads now; campaigning again")
            self.start_role()
        finally:
            self.is_leader = False

    async def _heartbeat(self) -> None:
        assert self.objects is not None and self.store is not None
        while True:
            await asyncio.sleep(LEASE_TTL / 3)
            try:
                ttl = await self.store.keepalive(self.lease)
                if ttl > 0:
                    continue
                log.warning("swarm: this node's lease expired; taking a new one")
                self.lease = await self.store.grant(LEASE_TTL)
                await self.store.put(self.objects.key("alive", self.node_id), b"1",
                                     lease=self.lease)  # fmt: skip
                if self.overlay is not None:  # its endpoints went with the old lease
                    await self.overlay.renew()
                await self.stop_role()  # leadership went with the old lease
                self.start_role()
            except StoreError as exc:
                log.warning("swarm: store unreachable: %s", exc)

    async def _deactivate(self) -> None:
        if self._rejoining is not None and not self._rejoining.done():
            self._rejoining.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._rejoining
        await self.stop_joins()
        tasks = [*self._loops, *([self._role] if self._role else [])]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._loops, self._role = [], None
        if self.objects is not None and self.is_leader:
            with contextlib.suppress(Exception):
                await election.resign(self.objects.store, self.objects.key("leader")[:-1],
                                      self.lease)  # fmt: skip
        self.is_leader = False

    # ---- what the API needs ------------------------------------------------------------
    def require_manager(self) -> ClusterObjects:
        if not self.active:
            raise Unavailable(NOT_A_MANAGER)
        if self.role != "manager":
            raise Unavailable(WORKER_NOT_MANAGER)
        if self._rejoining is not None and not self._rejoining.done():
            raise Unavailable(REJOINING)
        self.lock.require_unlocked()
        assert self.objects is not None
        return self.objects

    async def unlock(self, unlock_key: str) -> None:
        if not self.active or self.objects is None:
            raise Unavailable(NOT_IN_SWARM)
        await self.lock.unlock(self.objects, unlock_key)
        await self.serve_joins()

    async def secret_value(self, task: dict[str, Any], secret_id: str) -> bytes:
        """A secret's bytes for one of this node's tasks: opened here by an unlocked
        manager, else asked of a manager's join service (workers never hold the key)."""
        assert self.objects is not None
        if self.role == "manager" and self.lock.data_key is not None:
            return self.lock.data_key.open(await self.objects.secret_data(secret_id))
        if self.external_store:  # no join service there: the key is in the user's etcd
            dek = await keys.load_data_key(self.objects)
            if dek is None:
                raise Unavailable(LOCKED)
            return dek.open(await self.objects.secret_data(secret_id))
        managers = [n["ManagerStatus"]["Addr"] for n in await self.objects.list("nodes")
                    if n.get("ManagerStatus")]  # fmt: skip
        return await fetch_secret(managers, self.tls, task["ID"], secret_id)

    async def nodes(self) -> list[dict[str, Any]]:
        return await status.nodes(self.require_manager())

    def ping_state(self) -> str:
        if not self.active:
            return "inactive"
        return f"active/{self.role}"

    async def info(self) -> dict[str, Any]:
        doc = await status.info(self.objects, self.state)
        if self.lock.locked:
            doc["LocalNodeState"] = "locked"
        return doc
