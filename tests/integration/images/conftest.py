"""Fixtures shared by the image-layer integration tests."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.snapshot import unmount

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def busybox_tar() -> Iterator[bytes]:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "bb.tar"
        subprocess.run([str(REPO / "scripts/make-busybox-rootfs.sh"), "--tar", str(p)], check=True)
        yield p.read_bytes()


@pytest.fixture
def data_root(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "data"
    yield root
    with open("/proc/self/mountinfo") as f:
        leftovers = [ln.split()[4] for ln in f if str(tmp_path) in ln.split()[4]]
    for t in sorted(leftovers, key=len, reverse=True):
        unmount(t)
    assert not leftovers, f"left mounted: {leftovers}"
