"""A daemon for the CLI's integration tests.

`DOCKYARD_TEST_HOST` (e.g. unix:///run/dockyard-test/x.sock) points at a running
daemon. Unset, the tests use the session's dockyardd (tests/conftest.py); with
`DOCKYARD_TEST_PEER=dockerd` a peer dockerd is started for the session on a
private socket, data root and exec root under /tmp, and stopped at the end
(the tests skip when dockerd is not installed or we are not root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers import peer_dockerd

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
