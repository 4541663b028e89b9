"""Registry processes for tests: `dockyard-registry serve` and Debian's
`docker-registry` (CNCF distribution 2.8), each on a free loopback port with
storage in a temp dir, stopped by pid."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

BIN = Path(sys.executable).parent


_MEMORY_SERVER = """
import sys
from aiohttp import web
from dockyard.registry.server.app import RegistryApp
from dockyard.registry.server.driver import InMemoryDriver
from dockyard.registry.server.storage import RegistryStorage
app = RegistryApp(RegistryStorage(InMemoryDriver())).make_app()
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Registry:
    kind: str
    port: int
    root: Path
    proc: subprocess.Popen[bytes]
    log: Path
    session: requests.Session = field(default_factory=requests.Session)
    host: str = "127.0.0.1"

    @property
    def addr(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.addr}"

    def req(self, method: str, path: str, **kw: object) -> requests.Response:
        url = path if path.startswith("http") else self.url + path
        return self.session.request(method, url, allow_redirects=False, timeout=30, **kw)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _wait(
    port: int,
    proc: subprocess.Popen[bytes],
    log: Path,
    scheme: str = "http",
    host: str = "127.0.0.1",
) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"registry exited:\n{log.read_text()}")
        try:
            requests.get(f"{scheme}://{host}:{port}/v2/", timeout=1, verify=False)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"registry did not start:\n{log.read_text()}")


def start(
    kind: str,
    root: Path | None = None,
    extra_yaml: str = "",
    args: list[str] | None = None,
    scheme: str = "http",
    host: str = "127.0.0.1",
) -> Registry:
    root = root or Path(tempfile.mkdtemp(prefix=f"reg-{kind}-"))
    port = free_port()
    cfg = root / "config.yml"
    cfg.write_text(
        "version: 0.1\n"
        "log: {level: warn}\n"
        f"storage:\n  filesystem: {{rootdirectory: {root / 'data'}}}\n"
        "  delete: {enabled: true}\n"
        f"http: {{addr: '{host}:{port}'}}\n" + extra_yaml
    )
    log = root / "registry.log"
    if kind == "dockyard":
        cmd = [
            str(BIN / "dockyard-registry"),
            "serve",
            str(cfg),
            "--log-level",
            "warning",
            *(args or []),
        ]
    elif kind == "memory":  # ours over the in-memory storage driver
        cmd = [sys.executable, "-c", _MEMORY_SERVER, str(port)]
    elif kind == "distribution":
        exe = shutil.which("docker-registry")
        if exe is None:
            import pytest

            pytest.skip("docker-registry (Debian package) is not installed")
        cmd = [exe, "serve", str(cfg)]
    else:
        raise ValueError(kind)
    with open(log, "ab") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    reg = Registry(kind, port, root, proc, log, host=host)
    try:
        _wait(port, proc, log, scheme, host)
    except BaseException:
        reg.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return reg


def stop(reg: Registry) -> None:
    reg.stop()
    shutil.rmtree(reg.root, ignore_errors=True)
