"""This daemon's membership of a swarm: init, join and leave, what it keeps on disk to
come back after a restart (`<data-root>/swarm/state.json`), its embedded etcd member
(managers), its liveness lease, its agent, and, while elected, the orchestrator.

The swarm port (2377 by default) serves etcd's client API and the port after it etcd's
peer API; the remote address a joiner names is therefore the store's endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from typing import Any

from dockyard.api.errors import InvalidParameter, Unavailable
from dockyard.cluster.agent.agent import TASK_LABEL, Agent
from dockyard.cluster.agent.protocol import TaskContainers
from dockyard.cluster.model import objects
from dockyard.cluster.model.repo import ClusterObjects, OutOfSequence
from dockyard.cluster.orchestrator import leader as orchestrator
from dockyard.cluster.overlay import OverlayAgent
from dockyard.cluster.store import Compare, EtcdStore, StoreError, election
from dockyard.cluster.store.member import EtcdMember, MemberConfig

log = logging.getLogger(__name__)

LEASE_TTL = 3  # seconds: a node silent this long is down and its tasks are replaced
DEFAULT_PORT = 2377
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


@dataclass(frozen=True)
class Engine:
    """What a node tells the swarm about itself."""

    hostname: str
    version: str
    ncpu: int
    memory: int


def split_addr(addr: str, default_port: int) -> tuple[str, int]:
    """ "ip", "ip:port" or an interface name (its first IPv4 address)."""
    host, _, port = addr.rpartition(":") if addr.count(":") == 1 else (addr, "", "")
    host = host or addr
    if host and not host[0].isdigit() and host not in ("localhost",):
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", host],
                             capture_output=True, text=True)  # fmt: skip
        words = out.stdout.split()
        if out.returncode != 0 or "inet" not in words:
            raise InvalidParameter(
                "advertise address must be a non-zero IP address or network interface "
                "(with optional port number)"
            )
        host = words[words.index("inet") + 1].split("/")[0]
    try:
        socket.inet_aton(host)
    except OSError:
        raise InvalidParameter(f"invalid listen address {addr}") from None
    return host, int(port or default_port)


def advertise_addr(req: dict[str, Any], toward: str = "1.1.1.1") -> tuple[str, int]:
    """The address and swarm port others reach this node on: --advertise-addr, else a
    specific --listen-addr, else the source address of the route toward the manager
    joined (or of the default route), as dockerd picks it."""
    listen = req.get("ListenAddr") or f"0.0.0.0:{DEFAULT_PORT}"
    listen_host, port = split_addr(listen, DEFAULT_PORT)
    adv = req.get("AdvertiseAddr") or ""
    if adv:
        return split_addr(adv, port)
    if listen_host != "0.0.0.0":
        return listen_host, port
    return route_source(toward), port


def route_source(toward: str) -> str:
    """The source address of the route toward `toward`; with no route, the host's one
    non-loopback IPv4 address (none or several: dockerd asks for --advertise-addr)."""
    out = subprocess.run(["ip", "-4", "route", "get", toward], capture_output=True, text=True)
    words = out.stdout.split()
    if out.returncode == 0 and "src" in words:
        return words[words.index("src") + 1]
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                         capture_output=True, text=True)  # fmt: skip
    addrs = [line.split()[3].split("/")[0] for line in out.stdout.splitlines()]
    if len(addrs) != 1:
        raise InvalidParameter(
            "could not find the system's IP address - specify one with --advertise-addr"
        )
    return addrs[0]


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

    def _save(self) -> None:
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        tmp = self.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.state, f)
        os.replace(tmp, self.state_file)

    async def restore(self) -> None:
        """Rejoins the swarm this daemon was part of before it stopped."""
        try:
            with open(self.state_file) as f:
                self.state = json.load(f)
        except FileNotFoundError:
            return
        try:
            if self.state.get("Member"):
                self.member = EtcdMember(
                    MemberConfig(**{**self.state["Member"], "existing": True}), self._etcd_log()
                )
                await self.member.start()
            self._connect(self.state["Endpoints"])
            await self._activate()
        except Exception as exc:
            log.error("could not rejoin the swarm: %s", exc)

    def _etcd_log(self) -> str:
        return os.path.join(self.state_dir, "etcd.log")

    def _connect(self, endpoints: list[str]) -> None:
        self.store = EtcdStore(endpoints)
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
        if not endpoints:
            cfg = MemberConfig(name=node_id, data_dir=os.path.join(self.state_dir, "etcd"),
                               host=host, client_port=port, peer_port=port + 1)  # fmt: skip
            shutil.rmtree(cfg.data_dir, ignore_errors=True)
            self.member = EtcdMember(cfg, self._etcd_log())
            await self.member.start()
            endpoints, member = [cfg.client_url], _member_record(cfg)
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
            )  # fmt: skip
            await self.objects.create_swarm(swarm)
            node = self._node_object(node_id, "manager", host, f"{host}:{port}")
            if req.get("Availability"):
                node["Spec"]["Availability"] = req["Availability"]
            await self.objects.create("nodes", node)
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
        }  # fmt: skip
        self._save()
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
        endpoints = list(self.external_store)
        for r in remotes if not endpoints else []:
            h, p = split_addr(r, DEFAULT_PORT)
            endpoints.append(f"http://{h}:{p}")
        store = EtcdStore(endpoints)
        try:
            swarm = await ClusterObjects(store).get_swarm()
        except StoreError:
            await store.close()
            raise Unavailable(
                "Timeout was reached before node joined. The attempt to join the swarm will "
                'continue in the background. Use the "docker info" command to see the '
                "current swarm status of your node."
            ) from None
        token = req.get("JoinToken") or ""
        tokens = (swarm or {}).get("JoinTokens") or {}
        if swarm is None or token not in (tokens.get("Worker"), tokens.get("Manager")):
            await store.close()
            raise InvalidParameter(
                "rpc error: code = InvalidArgument desc = A valid join token is necessary to "
                "join this cluster"
            )
        role = "manager" if token == tokens.get("Manager") else "worker"
        host, port = advertise_addr(req, split_addr(remotes[0], DEFAULT_PORT)[0])
        node_id = objects.new_id()
        member: dict[str, Any] | None = None
        if role == "manager" and not self.external_store:
            cfg = await self._add_member(store, node_id, host, port)
            endpoints = [cfg.client_url, *endpoints]
            member = _member_record(cfg)
        await store.close()
        self._connect(endpoints)
        assert self.objects is not None
        node = self._node_object(node_id, role, host, f"{host}:{port}")
        if role == "worker":
            node.pop("ManagerStatus", None)
        if req.get("Availability"):
            node["Spec"]["Availability"] = req["Availability"]
        await self.objects.create("nodes", node)
        self.state = {"NodeID": node_id, "Role": role, "Addr": host, "Port": port,
                      "ManagerAddr": f"{host}:{port}" if member else "",
                      "Endpoints": endpoints, "Member": member}  # fmt: skip
        self._save()
        await self._activate()

    async def _add_member(
        self, store: EtcdStore, node_id: str, host: str, port: int
    ) -> MemberConfig:
        """This node's etcd member, added to the cluster through the member API and started."""
        cfg = MemberConfig(name=node_id, data_dir=os.path.join(self.state_dir, "etcd"),
                           host=host, client_port=port, peer_port=port + 1)  # fmt: skip
        members = await _member_add(store, cfg.peer_url)
        initial = ",".join(f"{m.get('name') or node_id}={m['peerURLs'][0]}" for m in members)
        cfg = MemberConfig(**{**_member_record(cfg), "initial_cluster": initial, "existing": True})
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
            if self.member is not None and managers > 1:
                with contextlib.suppress(Exception):
                    for m in await self.store.member_list():
                        if m.get("name") == self.node_id:
                            await self.store.member_remove(m["ID"])
            await self.store.close()
        if self.member is not None:
            await self.member.stop()
        self.member = None
        self.store = self.objects = None
        self.state = {}
        shutil.rmtree(self.state_dir, ignore_errors=True)

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
                                    os.path.join(self.state_dir, "overlay"))  # fmt: skip
        agent = Agent(self.objects, self.containers, self.node_id, self.overlay)
        self._loops = [
            asyncio.create_task(self._heartbeat()),
            asyncio.create_task(agent.run()),
            asyncio.create_task(self.overlay.run()),
            asyncio.create_task(self._follow_role()),
        ]
        self._start_role()

    def _start_role(self) -> None:
        if self.role == "manager":
            self._role = asyncio.create_task(self._manage(self.lease))

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
            self._start_role()
        finally:
            self.is_leader = False

    async def _follow_role(self) -> None:
        """`node promote|demote` change Spec.Role; the node itself joins or leaves etcd."""
        assert self.objects is not None and self.store is not None
        key = self.objects.key("nodes", self.node_id)
        _, rev = await self.store.range(key)
        async for ev in self.store.watch(key, rev + 1):
            if ev.kv.key != key or ev.type == "delete":
                continue
            role = json.loads(ev.kv.value)["Spec"].get("Role")
            if role == self.role:
                continue
            try:
                await (self._promote() if role == "manager" else self._demote())
            except Exception:
                log.exception("swarm: changing this node's role to %s failed", role)

    async def _set_manager_status(self, status: dict[str, Any] | None) -> None:
        assert self.objects is not None
        while True:
            n = await self.objects.get("nodes", self.node_id)
            if status is None:
                n.pop("ManagerStatus", None)
            else:
                n["ManagerStatus"] = status
            try:
                await self.objects.update("nodes", n, n["Version"]["Index"])
                return
            except OutOfSequence:
                continue

    async def _promote(self) -> None:
        assert self.store is not None
        host, port = self.state["Addr"], int(self.state.get("Port") or DEFAULT_PORT)
        if not self.external_store:
            cfg = await self._add_member(self.store, self.node_id, host, port)
            self.store.endpoints[:0] = [cfg.client_url]
            self.state.update(Member=_member_record(cfg))
        self.state.update(Role="manager", Endpoints=list(self.store.endpoints),
                          ManagerAddr=f"{host}:{port}")  # fmt: skip
        self._save()
        await self._set_manager_status({"Reachability": "reachable", "Addr": f"{host}:{port}"})
        self._start_role()
        log.info("swarm: this node was promoted to a manager")

    async def _demote(self) -> None:
        assert self.store is not None and self.objects is not None
        if self._role is not None:
            self._role.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._role
            self._role = None
        await self._set_manager_status(None)
        with contextlib.suppress(Exception):
            await election.resign(self.store, self.objects.key("leader")[:-1], self.lease)
        for m in await self.store.member_list() if self.member is not None else []:
            if m.get("name") == self.node_id:
                await self.store.member_remove(m["ID"])
        if self.member is not None:
            await self.member.stop()
            shutil.rmtree(self.member.config.data_dir, ignore_errors=True)
        own = f"http://{self.state['Addr']}:{self.state.get('Port') or DEFAULT_PORT}"
        self.store.endpoints = [e for e in self.store.endpoints if e != own]
        self.member = None
        self.state.update(Role="worker", Member=None, ManagerAddr="",
                          Endpoints=list(self.store.endpoints))  # fmt: skip
        self._save()
        log.info("swarm: this node was demoted to a worker")

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
                if self._role is not None:  # leadership went with the old lease
                    self._role.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await self._role
                self._start_role()
            except StoreError as exc:
                log.warning("swarm: store unreachable: %s", exc)

    async def _deactivate(self) -> None:
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
        assert self.objects is not None
        return self.objects

    async def nodes(self) -> list[dict[str, Any]]:
        """Nodes as shown: Status.State from the liveness keys, the leader flag from the
        election key."""
        objs = self.require_manager()
        nodes = await objs.list("nodes")
        alive = await orchestrator.alive_nodes(objs)
        lead = await election.leader(objs.store, objs.key("leader")[:-1])
        for n in nodes:
            decorate_node(n, n["ID"] in alive, lead.decode() if lead else "")
        return nodes

    def ping_state(self) -> str:
        if not self.active:
            return "inactive"
        return f"active/{self.role}"

    async def info(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "NodeID": self.node_id, "NodeAddr": self.state.get("Addr", ""),
            "LocalNodeState": "active" if self.active else "inactive",
            "ControlAvailable": self.role == "manager", "Error": "",
            "RemoteManagers": None,
        }  # fmt: skip
        if not self.active or self.objects is None:
            doc["NodeID"] = ""
            return doc
        try:
            nodes = await self.objects.list("nodes")
            doc["RemoteManagers"] = [
                {"NodeID": n["ID"], "Addr": n["ManagerStatus"]["Addr"]}
                for n in nodes if n.get("ManagerStatus")
            ]  # fmt: skip
            doc["Nodes"] = len(nodes)
            doc["Managers"] = len(doc["RemoteManagers"])
            if self.role == "manager":
                swarm = await self.objects.get_swarm()
                if swarm is not None:
                    swarm.pop("JoinTokens", None)
                    doc["Cluster"] = swarm
        except StoreError as exc:
            doc["Error"] = str(exc)
        return doc


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


async def _member_add(store: EtcdStore, peer_url: str, timeout: float = 60) -> list[dict[str, Any]]:
    """etcd refuses a new voting member until every member it knows has been connected for a
    while ("unhealthy cluster", its strict reconfiguration check): a manager that joined
    just before is still settling, so wait for it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await store.member_add(peer_url)
        except StoreError as exc:
            if "unhealthy cluster" not in str(exc) or loop.time() > deadline:
                raise
        await asyncio.sleep(0.5)


def _member_record(cfg: MemberConfig) -> dict[str, Any]:
    return {"name": cfg.name, "data_dir": cfg.data_dir, "host": cfg.host,
            "client_port": cfg.client_port, "peer_port": cfg.peer_port,
            "initial_cluster": cfg.initial_cluster}  # fmt: skip
