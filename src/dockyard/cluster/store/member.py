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
import time
from dataclasses import dataclass

import aiohttp


@dataclass(frozen=True)
class MemberConfig:
    name: str
    data_dir: str
    host: str
    client_port: int
    peer_port: int
    initial_cluster: str = ""  # name=peerURL,...; empty: a new one-member cluster
    existing: bool = False  # joining a cluster through member add

    @property
    def client_url(self) -> str:
        return f"http://{self.host}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{self.host}:{self.peer_port}"

    def argv(self, binary: str) -> list[str]:
        listen_client = self.client_url
        if self.host not in ("127.0.0.1", "localhost"):  # local tools reach it on loopback
            listen_client += f",http://127.0.0.1:{self.client_port}"
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
        async with aiohttp.ClientSession() as http:
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
