"""A peer dockerd for the tests that compare with it, the one way to start one:
its own socket, data root, exec root and pidfile under a temp dir in /tmp, no
iptables rules, no bridge unless the caller made one for it; stopped by pid,
its mounts and directory gone afterwards. Skips the test unless root and
dockerd is installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Daemon


def _wait_for_socket(path: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dockerd exited: {log.read_text()[-2000:]}")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(path)
                s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("dockerd did not come up in 60 s")


def _stop(proc: subprocess.Popen[bytes], root: str) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with open("/proc/self/mounts") as f:
        mounts = [line.split()[1] for line in f if root in line.split()[1]]
    for mount in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], check=False)
    shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def peer_process(
    prefix: str, config: dict | None = None, bridge: str = "none", args: tuple[str, ...] = ()
) -> Iterator[Daemon]:
    """The peer as a `Daemon` (with `config` as its daemon.json when given;
    `bridge`: an existing bridge of the caller's, or none; `args`: more flags)."""
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd is not installed")
    if os.geteuid() != 0:
        pytest.skip("a peer dockerd needs root")
    root = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    sock = f"{root}/d.sock"
    log = Path(root) / "dockerd.log"
    conf_args: list[str] = []
    if config is not None:
        conf = Path(root) / "daemon.json"
        conf.write_text(json.dumps(config))
        conf_args = ["--config-file", str(conf)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                "dockerd",
                "-H", f"unix://{sock}",
                "--data-root", f"{root}/data",
                "--exec-root", f"{root}/exec",
                "--pidfile", f"{root}/dockerd.pid",
                "--iptables=false",
                "--ip-forward=false",
                f"--bridge={bridge}",
                *args,
                *conf_args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait_for_socket(sock, proc, log)
        yield Daemon(Path(root), sock, proc, log)
    finally:
        _stop(proc, root)


@contextlib.contextmanager
def peer_dockerd(prefix: str, config: dict | None = None) -> Iterator[str]:
    """The peer with no bridge; its host (`unix://...`)."""
    with peer_process(prefix, config) as peer:
        yield peer.host
