"""A daemon for the CLI's integration tests.

`DOCKYARD_TEST_HOST` (e.g. unix:///run/dockyard-test/x.sock) points at a running
daemon. Unset, the tests use the session's dockyardd (tests/conftest.py); with
`DOCKYARD_TEST_PEER=dockerd` a peer dockerd is started for the session on a
private socket, data root and exec root under /tmp, and stopped at the end
(the tests skip when dockerd is not installed or we are not root).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BUSYBOX_CHANGES = [
    'CMD ["sh"]',
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
]


def dockyard_argv() -> list[str]:
    script = Path(sys.executable).parent / "dockyard"
    if script.exists():
        return [str(script)]
    return [
        sys.executable,
        "-c",
        "import sys; from dockyard.cli.main import main; sys.exit(main())",
    ]


class Dockyard:
    """Runs the CLI against the test daemon."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.argv = dockyard_argv()

    def __call__(
        self, *args: str, input: bytes | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self.argv, "-H", self.host, *args],
            input=input,
            capture_output=True,
            timeout=timeout,
        )
        return subprocess.CompletedProcess(
            result.args,
            result.returncode,
            result.stdout.decode(errors="replace"),
            result.stderr.decode(errors="replace"),
        )


def _wait_for_socket(path: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import socket

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
def peer_dockerd(prefix: str, config: dict | None = None) -> Iterator[str]:
    """A peer dockerd on its own socket, data root, exec root and pidfile under a
    temp dir, with no bridge and no iptables rules (and `config` as its daemon.json
    when given); stopped by pid, its mounts and directory gone afterwards. Skips
    the test unless root."""
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
                "--bridge=none",
                *conf_args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait_for_socket(sock, proc, log)
        yield f"unix://{sock}"
    finally:
        _stop(proc, root)


@pytest.fixture(scope="session")
def daemon_host(request: pytest.FixtureRequest) -> Iterator[str]:
    host = os.environ.get("DOCKYARD_TEST_HOST")
    if host:
        yield host
        return
    if os.environ.get("DOCKYARD_TEST_PEER") != "dockerd":
        # By default our CLI is tested against our daemon (the session fixture);
        # DOCKYARD_TEST_PEER=dockerd runs the same tests against a peer dockerd.
        yield request.getfixturevalue("daemon").host
        return
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd is not installed and DOCKYARD_TEST_HOST is unset")
    with peer_dockerd("dy-cli-") as host:
        yield host


@pytest.fixture(scope="session")
def dockyard(daemon_host: str) -> Dockyard:
    return Dockyard(daemon_host)


@pytest.fixture(scope="session")
def busybox(dockyard: Dockyard, tmp_path_factory: pytest.TempPathFactory) -> str:
    """busybox:latest in the daemon, imported with our own `dockyard import`."""
    if dockyard("image", "inspect", "busybox:latest").returncode == 0:
        return "busybox:latest"
    tar = tmp_path_factory.mktemp("busybox") / "rootfs.tar"
    subprocess.run([str(REPO / "scripts/make-busybox-rootfs.sh"), "--tar", str(tar)], check=True)
    changes = [arg for change in BUSYBOX_CHANGES for arg in ("-c", change)]
    result = dockyard("import", *changes, str(tar), "busybox:latest")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("sha256:"), result.stdout
    return "busybox:latest"
