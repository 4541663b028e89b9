"""Pulls and pushes that are cut short, and pulls that run at once, against
`dockyard registry serve` behind a recording loopback proxy: a daemon
SIGKILLed in the middle of a blob download resumes it with a Range request;
one SIGKILLed in the middle of a chunked upload continues the registry's
upload session from its offset; concurrent pulls of images sharing layers
download each blob once."""

from __future__ import annotations

import os
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Daemon, inspect, start_daemon, stop_daemon
from tests.integration.images import test_crash
from tests.integration.registry.flaky import Proxy
from tests.integration.registry.images import make_oci_layout
from tests.integration.registry.peers import Registry
from tests.integration.registry.test_daemon import _skopeo_push

root = test_crash.root  # a fixture: a temp daemon root, its leftovers killed after
_check_store = test_crash._check_store


def uniq() -> str:
    return uuid.uuid4().hex[:8]


def _wait_for(cond: Callable[[], bool], what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not cond():
        assert proc.poll() is None, f"the client ended before {what}: {proc.stderr.read()}"  # type: ignore[union-attr]
        assert time.monotonic() < deadline, f"never reached: {what}"
        time.sleep(0.02)


def _partial_bytes(d: Daemon) -> int:
    ingest = d.root / "data" / "image" / "content" / "ingest"
    return sum(e.stat().st_size for e in os.scandir(ingest) if e.name.startswith("partial-"))


def test_pull_killed_mid_blob_resumes_with_range(
    root: Path, ours: Registry, tmp_path: Path
) -> None:
    src = make_oci_layout(
        tmp_path / "oci", layers=[{"big.bin": os.urandom(6 << 20)}, {"small": b"s" * 100}]
    )
    name = f"resume/pull{uniq()}"
    _skopeo_push(src.path, f"{ours.addr}/{name}:1")
    big = src.layer_digests[0]
    d = start_daemon(root)
    try:
        with Proxy(ours.url, blob_rate=1 << 20) as slow:
            pull = subprocess.Popen(
                ["docker", "pull", f"{slow.addr}/{name}:1"],
                env=d.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            try:
                _wait_for(lambda: _partial_bytes(d) > 1 << 20, "1 MiB downloaded", pull)
                d.proc.kill()  # SIGKILL, mid-blob
                d.proc.wait()
            finally:
                pull.kill()
                pull.wait()
            kept = _partial_bytes(d)
            assert kept > 1 << 20
        d = start_daemon(root)  # the same data root
        with Proxy(ours.url) as proxy:
            r = d.docker("pull", f"{proxy.addr}/{name}:1")
            assert r.returncode == 0, r.stdout + r.stderr
            # one GET of the big blob, from exactly where the killed daemon stopped
            assert proxy.gets[big] == 1 and proxy.ranges == [f"bytes={kept}-"], (proxy.ranges, kept)
            info = inspect(d, f"{proxy.addr}/{name}:1")
            assert len(info["RootFS"]["Layers"]) == 2
            assert _partial_bytes(d) == 0  # the ingest became the layer's blob
            r = d.docker("rmi", f"{proxy.addr}/{name}:1")
            assert r.returncode == 0, r.stderr
    finally:
        stop_daemon(d)
    assert _check_store(d.root / "data") == []  # nothing dangling: a removed pull's blobs go too


def _load_random_image(d: Daemon, tmp_path: Path, tag: str, size: int) -> None:
    src = make_oci_layout(tmp_path / "img", layers=[{"r.bin": os.urandom(size)}])
    archive = tmp_path / "img.tar"
    with tarfile.open(archive, "w") as tf:
        for p in sorted(src.path.rglob("*")):
            tf.add(p, str(p.relative_to(src.path)), recursive=False)
    r = d.docker("load", "-i", str(archive))
    assert r.returncode == 0, r.stderr
    image_id = r.stdout.strip().rsplit(" ", 1)[-1]
    d.docker("tag", image_id, tag, check=True)


def test_push_killed_mid_upload_resumes_the_session(
    root: Path, ours: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKYARD_UPLOAD_CHUNK_SIZE", str(1 << 20))  # six PATCHes
    name = f"resume/push{uniq()}"
    d = start_daemon(root)
    try:
        with Proxy(ours.url, patch_delay=1.0) as proxy:
            ref = f"{proxy.addr}/{name}:1"
            _load_random_image(d, tmp_path, ref, 6 << 20)
            push = subprocess.Popen(
                ["docker", "push", ref], env=d.env(),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            try:
                _wait_for(lambda: len(proxy.patches) >= 2, "two chunks uploaded", push)
                d.proc.kill()  # SIGKILL, while the registry holds two chunks
                d.proc.wait()
            finally:
                push.kill()
                push.wait()
            before = list(proxy.patches)
            proxy.patch_delay = 0.0
            d = start_daemon(root)
            r = d.docker("push", ref)
            assert r.returncode == 0, r.stdout + r.stderr
            after = proxy.patches[len(before) :]
            sent_before = sum(n for _, n in before)
            first = int(after[0][0].split("-")[0]) if after else None
            assert first is not None and first >= sent_before, (before, after)
            assert "Resuming upload" in r.stdout, r.stdout
        # what the registry holds is whole: the manifest and its layer are there
        m = ours.req(
            "GET", f"/v2/{name}/manifests/1",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )  # fmt: skip
        assert m.status_code == 200, m.text
        for layer in m.json()["layers"]:
            assert ours.req("HEAD", f"/v2/{name}/blobs/{layer['digest']}").status_code == 200
    finally:
        stop_daemon(d)


def test_concurrent_pulls_download_each_blob_once(
    daemon: Daemon, ours: Registry, tmp_path: Path
) -> None:
    base = [{"a.bin": os.urandom(1 << 20)}, {"b.bin": os.urandom(1 << 20)}]
    a = make_oci_layout(tmp_path / "a", layers=[*base, {"c.bin": os.urandom(1 << 20)}])
    b = make_oci_layout(tmp_path / "b", layers=[*base, {"d.bin": os.urandom(1 << 20)}])
    assert a.layer_digests[:2] == b.layer_digests[:2]
    name = f"shared/img{uniq()}"
    _skopeo_push(a.path, f"{ours.addr}/{name}:a")
    _skopeo_push(b.path, f"{ours.addr}/{name}:b")
    with Proxy(ours.url, blob_rate=2 << 20) as proxy:  # slow enough that the pulls overlap
        refs = [f"{proxy.addr}/{name}:{t}" for t in ("a", "a", "b")]
        results: list[subprocess.CompletedProcess[str]] = []

        def pull(ref: str) -> None:
            results.append(daemon.docker("pull", ref, timeout=120))

        threads = [threading.Thread(target=pull, args=(r,)) for r in refs]
        try:
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
            for digest in {*a.layer_digests, *b.layer_digests}:
                assert proxy.gets[digest] == 1, (digest, proxy.gets)
            assert (
                inspect(daemon, refs[0])["RootFS"]["Layers"][:2]
                == (inspect(daemon, refs[2])["RootFS"]["Layers"][:2])
            )
        finally:
            daemon.docker("rmi", "-f", refs[0], refs[2])
