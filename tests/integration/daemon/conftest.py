"""Fixtures for the daemon tests that need a dockyardd of their own (restarts, kills)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BUSYBOX_PATH, kill_leftovers, start_daemon, stop_daemon


@pytest.fixture()
def private_root(session_tmp: Path, busybox_rootfs_tar: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    root = session_tmp / f"private-{os.getpid()}-{time.monotonic_ns()}"
    root.mkdir()
    d = start_daemon(root)
    d.docker(
        "import",
        "-c",
        'CMD ["sh"]',
        "-c",
        f"ENV PATH={BUSYBOX_PATH}",
        str(busybox_rootfs_tar),
        "busybox:latest",
        check=True,
    )
    stop_daemon(d)
    try:
        yield root
    finally:
        try:
            d = start_daemon(root)
            ids = d.docker("ps", "-aq").stdout.split()
            if ids:
                d.docker("rm", "-f", *ids)
            stop_daemon(d)
        finally:
            kill_leftovers(root)  # even when the daemon would not start again
