"""`kill -9` of dockyardd in the middle of a `docker load` of a large image
(once while the archive streams into the content store, once while layers
unpack), then a restart: the store is consistent (nothing dangling or
half-written) and the same load succeeds."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockyard.snapshot.overlay import OverlaySnapshotter
from dockyard.store import gc
from dockyard.store.content import FileContentStore
from dockyard.store.images import ImageStore
from dockyard.store.paths import StorePaths
from tests.conftest import Daemon, kill_leftovers, start_daemon, stop_daemon

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (overlay mounts)"),
]
LAYERS, FILES, FILE_SIZE = 3, 32, 1 << 20  # 96 MiB of incompressible files


def _write_archive(path: Path) -> None:
    """A Docker archive of one image, LAYERS layers of FILES random files each."""
    layers = []
    for n in range(LAYERS):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            for i in range(FILES):
                ti = tarfile.TarInfo(f"l{n}/f{i}")
                ti.size = FILE_SIZE
                tf.addfile(ti, io.BytesIO(os.urandom(FILE_SIZE)))
        layers.append(buf.getvalue())
    diff_ids = ["sha256:" + hashlib.sha256(ly).hexdigest() for ly in layers]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }  # fmt: skip
    ).encode()
    cfg_name = "blobs/sha256/" + hashlib.sha256(config).hexdigest()
    manifest = [{"Config": cfg_name, "RepoTags": ["crash:big"],
                 "Layers": ["blobs/sha256/" + d[7:] for d in diff_ids]}]  # fmt: skip
    with tarfile.open(path, "w") as tf:
        for name, data in [(cfg_name, config), ("manifest.json", json.dumps(manifest).encode())] + [
            ("blobs/sha256/" + d[7:], ly) for d, ly in zip(diff_ids, layers, strict=True)
        ]:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    r = tmp_path / "crash"
    r.mkdir()
    yield r
    kill_leftovers(r)


def _ingest_bytes(data: Path) -> int:
    d = StorePaths.under(data).ingest
    return sum(e.stat().st_size for e in os.scandir(d)) if d.exists() else 0


def _snapshot_dirs(data: Path) -> int:
    d = data / "snapshots" / "overlay" / "snapshots"
    return len(os.listdir(d)) if d.exists() else 0


def _check_store(data: Path) -> list[str]:
    """Open the stores as they are on disk (no start-up sweep first) and walk them."""
    paths = StorePaths.under(data)
    leftovers = [f"ingest {e.name}" for e in os.scandir(paths.ingest)]
    content = FileContentStore(paths)
    store = ImageStore(str(paths.db), content)
    snaps = OverlaySnapshotter.open(data)
    try:
        return leftovers + gc.check(content, store, snaps, verify_digests=True, dangling=True)
    finally:
        store.close()
        snaps.close()


def _kill_during_load(d: Daemon, archive: Path, when: Callable[[], bool]) -> None:
    load = subprocess.Popen(
        ["docker", "load", "-i", str(archive)],
        env=d.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not when():
            assert load.poll() is None, "the load ended before the kill point"
            assert time.monotonic() < deadline, "kill point never reached"
            time.sleep(0.005)
        os.kill(d.proc.pid, signal.SIGKILL)
        d.proc.wait(10)
        load.wait(30)
        assert load.returncode != 0
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()


def test_kill_9_during_load_then_restart(root: Path) -> None:
    archive = root / "big.tar"
    _write_archive(archive)
    data = root / "data"
    kill_points = {
        "streaming into the content store": lambda: _ingest_bytes(data) > 20 << 20,
        "unpacking layers": lambda: _snapshot_dirs(data) >= 2,
    }
    for phase, when in kill_points.items():
        d = start_daemon(root)
        try:
            _kill_during_load(d, archive, when)
        finally:
            stop_daemon(d)
        kill_leftovers(root)  # nothing of ours may stay mounted
        debris = _check_store(data)  # what the crash left, seen before any restart
        assert debris, f"{phase}: the kill left nothing to clean up (too late?)"
        d = start_daemon(root)  # the start-up sweep finishes what the crash left
        try:
            assert d.docker("images", "-q").stdout == "", phase
        finally:
            stop_daemon(d)
        assert _check_store(data) == [], phase

    d = start_daemon(root)
    try:
        out = d.docker("load", "-i", str(archive), timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout == "Loaded image: crash:big\n"
        assert (
            d.docker("image", "inspect", "-f", "{{len .RootFS.Layers}}", "crash:big").stdout
            == f"{LAYERS}\n"
        )
    finally:
        stop_daemon(d)
    assert _check_store(data) == []
