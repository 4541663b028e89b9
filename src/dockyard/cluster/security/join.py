"""The join service: how a node with nothing but a join token gets into the swarm.

Every manager serves it on the port after etcd's peer port (swarm port + 2), over TLS
with its node certificate. A joiner first fetches the CA certificate unauthenticated
and checks it against the digest its token carries (so a man in the middle cannot hand
it another CA), then sends the token with a certificate request. The manager checks the
token against the swarm's, picks the node id, signs the node's certificates (CN = node
id, OU = role), makes its etcd user and role (`rbac`), stores the Node object and
answers with what the node needs to talk to the store. Kept apart from etcd's port
because etcd serves only clients that already hold a certificate.

Every node runs this service, a worker (or a locked manager) without the join part
(`ca` None): the routes in `extra` (a task's logs: `cluster.tasklogs`) are served to
callers holding a certificate of the swarm's CA, named by its CN.
"""

from __future__ import annotations

import base64
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from dockyard.api.errors import InvalidParameter, Unavailable
from dockyard.cluster.model import objects
from dockyard.cluster.model.repo import ClusterObjects
from dockyard.cluster.security import pki, rbac
from dockyard.cluster.security.lock import LOCKED, SwarmLock
from dockyard.cluster.store.etcd import EtcdStore

log = logging.getLogger(__name__)

# GET routes for callers with a certificate: path → handler(caller's node id, request)
Extra = dict[str, Callable[[str, web.Request], Awaitable[web.StreamResponse]]]

JOIN_PORT_OFFSET = 2
STOP_GRACE = 1.0  # seconds a request in flight may finish when the service stops
INVALID_TOKEN = (
    "rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster"
)
TIMEOUT = (
    "Timeout was reached before node joined. The attempt to join the swarm will continue in "
    'the background. Use the "docker info" command to see the current swarm status of your node.'
)


def _token_digest(token: str) -> str:
    parts = token.split("-")
    if len(parts) != 4 or parts[0] != "SWMTKN" or parts[1] != "1":
        raise InvalidParameter(INVALID_TOKEN)
    return parts[2]


class JoinService:
    def __init__(self, objs: ClusterObjects, ca: pki.CA | None, tls: pki.NodeTLS,
                 host: str, port: int, lock: SwarmLock, extra: Extra | None = None) -> None:  # fmt: skip
        self.objects = objs
        self.ca = ca
        self.tls = tls
        self.host = host
        self.port = port + JOIN_PORT_OFFSET
        self.lock = lock
        self.extra = extra or {}
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        if self.ca is not None:
            app.router.add_get("/ca", self._ca)
            app.router.add_post("/join", self._join)
            app.router.add_get("/secrets/{id}", self._authenticated(self._secret))
        for path, handler in self.extra.items():
            app.router.add_get(path, self._authenticated(handler))
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=self.tls.ca)
        ctx.load_cert_chain(self.tls.cert, self.tls.key)
        ctx.verify_mode = ssl.CERT_OPTIONAL  # a joiner has no certificate yet
        # a request still running at stop is cancelled after STOP_GRACE (aiohttp waits
        # 60 s by default: a worker's `swarm leave` waited so on a log follower), and a
        # caller that goes away cancels its request (a follower would follow on forever)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=STOP_GRACE,
                                     handler_cancellation=True)  # fmt: skip
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port, ssl_context=ctx).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _authenticated(
        self, handler: Callable[[str, web.Request], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """The caller's node id from its verified certificate's CN."""

        async def wrapped(request: web.Request) -> web.StreamResponse:
            peer = request.transport.get_extra_info("peercert") if request.transport else None
            subject = dict(x[0] for x in (peer or {}).get("subject", ()))
            node_id = subject.get("commonName", "")
            if not node_id:
                return web.json_response({"message": "a node certificate is required"}, status=403)
            return await handler(node_id, request)

        return wrapped

    async def _secret(self, node_id: str, request: web.Request) -> web.StreamResponse:
        """A secret's bytes for a task of the asking node that uses it (the dispatcher's
        part in swarmkit: workers never see the data key)."""
        secret_id = request.match_info["id"]
        try:
            task = await self.objects.get("tasks", request.query.get("task", ""))
        except Exception:
            return web.json_response({"message": "no such task"}, status=404)
        if task.get("NodeID") != node_id or secret_id not in _secret_ids(task):
            return web.json_response({"message": "permission denied"}, status=403)
        dek = self.lock.data_key
        if dek is None:
            return web.json_response({"message": LOCKED}, status=503)
        return web.Response(body=dek.open(await self.objects.secret_data(secret_id)))

    async def _ca(self, request: web.Request) -> web.Response:
        assert self.ca is not None
        return web.Response(body=self.ca.pem, content_type="application/x-pem-file")

    async def _join(self, request: web.Request) -> web.Response:
        body = await request.json()
        swarm = await self.objects.get_swarm()
        tokens = (swarm or {}).get("JoinTokens") or {}
        token = str(body.get("token") or "")
        if swarm is None or not token or token not in (tokens.get("Worker"), tokens.get("Manager")):
            return web.json_response({"message": INVALID_TOKEN}, status=400)
        role = "manager" if token == tokens.get("Manager") else "worker"
        addr, port = str(body["addr"]), int(body["port"])
        assert self.ca is not None
        node_id = objects.new_id()
        cert, client = self.ca.issue_for_csr(body["csr"].encode(), node_id, role,
                                             [addr, "127.0.0.1"])  # fmt: skip
        password = rbac.new_password()
        store = self.objects.store
        assert isinstance(store, EtcdStore)
        await rbac.add_node(store, self.objects.prefix, node_id, password, role)
        node = objects.node(
            node_id, role=role, addr=addr, manager_addr=f"{addr}:{port}",
            hostname=str(body.get("hostname") or ""), engine_version=str(body.get("version") or ""),
            ncpu=int(body.get("ncpu") or 0), memory=int(body.get("memory") or 0),
        )  # fmt: skip
        if role == "worker":
            node.pop("ManagerStatus", None)
        if body.get("availability"):
            node["Spec"]["Availability"] = body["availability"]
        grant: dict[str, Any] = {}
        if role == "manager" and self.lock.data_key is not None:
            grant["DataKey"] = base64.b64encode(self.lock.data_key.key).decode()
        await self.objects.create("nodes", node)
        members = await store.member_list()
        endpoints = [u for m in members for u in m.get("clientURLs") or []]
        log.info("swarm: %s %s joined from %s", role, node_id, addr)
        return web.json_response({
            "NodeID": node_id, "Role": role, "CA": self.ca.pem.decode(), "Cert": cert.decode(),
            "ClientCert": client.decode(), "Password": password, "Endpoints": endpoints, **grant,
        })  # fmt: skip


async def request_join(remote: tuple[str, int], token: str, body: dict[str, Any],
                       key_pem: bytes, csr: bytes) -> dict[str, Any]:  # fmt: skip
    """Asks the manager at `remote` (its swarm port) to let this node in."""
    digest = _token_digest(token)
    host, port = remote[0], remote[1] + JOIN_PORT_OFFSET
    base = f"https://{host}:{port}"
    timeout = aiohttp.ClientTimeout(total=30)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async with http.get(base + "/ca", ssl=False) as resp:
                ca_pem = await resp.read()
            if pki.digest(ca_pem) != digest:
                raise InvalidParameter(f"remote CA does not match fingerprint. Expected: {digest}")
            ctx = ssl.create_default_context(cadata=ca_pem.decode())
            payload = {**body, "token": token, "csr": csr.decode()}
            async with http.post(base + "/join", json=payload, ssl=ctx) as resp:
                answer = await resp.json(content_type=None)
                if resp.status != 200:
                    raise InvalidParameter(answer.get("message") or str(answer))
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        log.warning("swarm: join through %s failed: %s", base, exc)
        raise Unavailable(TIMEOUT) from None
    return dict(answer)


def _secret_ids(task: dict[str, Any]) -> set[str]:
    cs = (task.get("Spec") or {}).get("ContainerSpec") or {}
    return {str(s.get("SecretID")) for s in cs.get("Secrets") or []}


async def fetch_secret(managers: list[str], tls: pki.NodeTLS, task_id: str,
                       secret_id: str) -> bytes:  # fmt: skip
    """A secret's bytes from the first manager that answers, with this node's certificate."""
    ctx = ssl.create_default_context(cafile=tls.ca)
    ctx.load_cert_chain(tls.cert, tls.key)
    last = ""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        for addr in managers:
            host, _, port = addr.rpartition(":")
            url = f"https://{host}:{int(port) + JOIN_PORT_OFFSET}/secrets/{secret_id}"
            try:
                async with http.get(url, params={"task": task_id}, ssl=ctx) as resp:
                    if resp.status == 200:
                        return await resp.read()
                    last = (await resp.json(content_type=None)).get("message", "")
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
                last = str(exc)
    raise Unavailable(f"secret {secret_id}: no manager handed it out: {last}")
