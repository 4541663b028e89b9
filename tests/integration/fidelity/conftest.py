"""A peer dockerd for the fidelity tests (issue 12), and both engines side by side.

The peer runs on its own socket, data root, exec root and pid file under /tmp, with
a bridge of its own (`dyp` + 4 hex, made here and deleted at the end) so legacy
links and /etc/hosts behave as on a normal dockerd; iptables are left alone. The
same busybox rootfs as the session's dockyardd is imported, so both engines run the
same image. `engine` is parametrized over both: a test runs its scenario on each
and asserts what dockerd does. Tests skip cleanly when dockerd is not installed or we are not
root.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BUSYBOX_PATH, Daemon
from tests.peers import peer_process


@contextlib.contextmanager
def bridged_peer(busybox_rootfs_tar: Path, extra: list[str] | None = None) -> Iterator[Daemon]:
    """A peer dockerd with a bridge of its own and busybox imported; `extra`: more
    dockerd flags (e.g. `--ipv6 --fixed-cidr-v6 ...`)."""
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd is not installed")
    if os.geteuid() != 0:
        pytest.skip("a peer dockerd needs root")
    bridge = f"dyp{random.SystemRandom().randrange(0x10000):04x}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", "169.254.231.1/24", "dev", bridge], check=True)
        subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
        args = ("--ip-masq=false", *(extra or []))
        with peer_process("dy-fid-peer-", bridge=bridge, args=args) as d:
            d.docker("import", "-c", 'CMD ["sh"]', "-c", f"ENV PATH={BUSYBOX_PATH}",
                     str(busybox_rootfs_tar), "busybox:latest", check=True)  # fmt: skip
            yield d
    finally:
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)


@pytest.fixture(scope="session")
def peer(busybox_rootfs_tar: Path) -> Iterator[Daemon]:
    with bridged_peer(busybox_rootfs_tar) as d:
        yield d


@pytest.fixture(params=["dockyardd", "dockerd"])
def engine(request: pytest.FixtureRequest) -> Daemon:
    """The session's dockyardd, then the peer dockerd: one scenario, both engines."""
    return request.getfixturevalue("daemon" if request.param == "dockyardd" else "peer")
