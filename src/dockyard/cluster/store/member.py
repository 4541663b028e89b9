"""The embedded etcd member a manager daemon starts and supervises: data under the data
root, client and peer traffic on the advertise address (the swarm port serves etcd's
client API, the next port its peer API), pre-vote on so a returning partitioned member
cannot depose the leader. The process is its own session, stopped by pid."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from dockyard.cluster.store.base import StoreError

if TYPE_CHECKING:
    from dockyard.cluster.store.etcd import EtcdStore


@dataclass(frozen=True)
class MemberConfig:
    name: str
    data_dir: str
    host: str
    client_port: int
    peer_port: int
    initial_cluster: str = ""  # name=peerURL,...; empty: a new one-member cluster
    existing: bool = False  # joining a cluster through member add
    tls_dir: str = ""  # the node's certificates (pki.NodeTLS); empty: plain http

    def record(self) -> dict[str, Any]:
        """What the node keeps on disk to restart this member (`existing` is implied)."""
        return {"name": self.name, "data_dir": self.data_dir, "host": self.host,
                "client_port": self.client_port, "peer_port": self.peer_port,
                "initial_cluster": self.initial_cluster, "tls_dir": self.tls_dir}  # fmt: skip

    @property
    def scheme(self) -> str:
        return "https" if self.tls_dir else "http"

    @property
    def client_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.peer_port}"

    def _tls_args(self) -> list[str]:
        """Client and peer traffic both need a certificate signed by the swarm's CA."""
        if not self.tls_dir:
            return []
        ca, cert, key = (os.path.join(self.tls_dir, f) for f in ("ca.crt", "node.crt", "node.key"))
        return [
            "--cert-file", cert, "--key-file", key, "--trusted-ca-file", ca,
            "--client-cert-auth",
            "--peer-cert-file", cert, "--peer-key-file", key, "--peer-trusted-ca-file", ca,
            "--peer-client-cert-auth",
            # node passwords are 192 random bits: bcrypt's cost buys nothing against
            # guessing them, and each hash (at join, at every authenticate) runs in
            # etcd's apply loop, where it delayed lease keep-alives past their TTL
            "--bcrypt-cost", "4",
        ]  # fmt: skip

    def argv(self, binary: str) -> list[str]:
        listen_client = self.client_url
        if self.host not in ("127.0.0.1", "localhost"):  # local tools reach it on loopback
            listen_client += f",{self.scheme}://127.0.0.1:{self.client_port}"
        return [
            binary,
            "--name", self.name,
            "--data-dir", self.data_dir,
            "--listen-client-urls", listen_client,
            "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", self.peer_url,
            "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", self.initial_cluster or f"{self.name}={self.peer_url}",
            "--initial-cluster-state", "existing" if self.existing else "new",
            "--pre-vote",
            "--heartbeat-interval", "100",
            "--election-timeout", "1000",
            "--auto-compaction-retention", "1h",
            "--log-level", "warn",
            *self._tls_args(),
        ]  # fmt: skip


def etcd_binary() -> str:
    found = shutil.which("etcd") or "/usr/bin/etcd"
    if not os.access(found, os.X_OK):
        raise FileNotFoundError("etcd is not installed (Debian: etcd-server)")
    return found


class EtcdMember:
    def __init__(self, config: MemberConfig, log_path: str) -> None:
        self.config = config
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def pidfile(self) -> str:
        return os.path.join(self.config.data_dir, "etcd.pid")

    async def start(self, timeout: float = 20) -> None:
        os.makedirs(self.config.data_dir, mode=0o700, exist_ok=True)
        kill_recorded(self.pidfile)  # a member left by a daemon that was SIGKILLed
        with open(self.log_path, "ab") as logf:
            self.proc = await asyncio.create_subprocess_exec(
                *self.config.argv(etcd_binary()),
                stdin=asyncio.subprocess.DEVNULL, stdout=logf, stderr=logf,
                start_new_session=True,
            )  # fmt: skip
        with open(self.pidfile, "w") as f:
            f.write(str(self.proc.pid))
        deadline = time.monotonic() + timeout
        ctx = None
        if self.config.tls_dir:  # the certificate without a CN: the one the gateway takes
            ctx = ssl.create_default_context(cafile=os.path.join(self.config.tls_dir, "ca.crt"))
            ctx.load_cert_chain(*(os.path.join(self.config.tls_dir, f)
                                  for f in ("client.crt", "node.key")))  # fmt: skip
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx or True)) as http:
            while True:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"etcd exited with {self.proc.returncode}: {self.log_path}")
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    async with http.get(
                        self.config.client_url + "/health", timeout=aiohttp.ClientTimeout(total=2)
                    ) as resp:
                        if (
                            resp.status == 200
                            and (await resp.json(content_type=None)).get("health") == "true"
                        ):
                            return
                if time.monotonic() > deadline:
                    await self.stop()
                    raise RuntimeError(f"etcd did not become healthy: {self.log_path}")
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.proc = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.pidfile)


def kill_recorded(pidfile: str) -> None:
    """SIGKILLs the etcd a pid file names, if that process is still an etcd."""
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"etcd" not in f.read().split(b"\0")[0]:
                return
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            if not os.path.exists(f"/proc/{pid}"):
                break
            time.sleep(0.02)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        pass


async def member_add(store: EtcdStore, peer_url: str, timeout: float = 60) -> list[dict[str, Any]]:
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


async def remove_member(store: EtcdStore, name: str) -> None:
    """Removes the member named `name` (a node id) from etcd's membership."""
    for m in await store.member_list():
        if m.get("name") == name:
            await store.member_remove(m["ID"])
