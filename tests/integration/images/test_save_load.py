"""save/load through the HTTP routes, checked against skopeo as a peer:
skopeo reads what we save, and we load what skopeo writes."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from dockyard.daemon.services.events import EventBus
from dockyard.daemon.services.images import ImageService
from tests.integration.images.test_image_service import _import, run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (overlay mounts)"),
]
skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")


def _layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


async def _save(client: TestClient, *names: str) -> bytes:
    if len(names) == 1:
        r = await client.get(f"/images/{names[0]}/get")
    else:
        r = await client.get("/images/get", params=[("names", n) for n in names])
    assert r.status == 200, await r.text()
    assert r.headers["Content-Type"] == "application/x-tar"
    return await r.read()


async def _load(client: TestClient, data: bytes) -> list[dict]:
    r = await client.post("/images/load", params={"quiet": "0"}, data=data)
    assert r.status == 200
    lines = [json.loads(line) for line in (await r.text()).splitlines() if line.strip()]
    # progress bars (quiet=0) are checked in test_image_cli; the outcome lines here
    return [x for x in lines if x.get("status") != "Loading layer"]


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
        return {m.name: (tf.extractfile(m).read() if m.isreg() else b"") for m in tf}  # type: ignore[union-attr]


@skopeo
def test_save_is_docker_and_oci_and_round_trips(
    data_root: Path, busybox_tar: bytes, tmp_path: Path
) -> None:
    async def scenario(client: TestClient, svc: ImageService, events: EventBus) -> None:
        image_id = (await _import(client, busybox_tar, repo="busybox", changes=['CMD ["sh"]']))[
            "status"
        ]
        # a second image on top of the first: two layers
        cfg = json.loads(svc.content.read(image_id))
        layer2 = _layer_tar({"etc/motd": b"hello\n"})
        diff2 = "sha256:" + hashlib.sha256(layer2).hexdigest()
        svc.unpack_layer(io.BytesIO(layer2), svc.resolve(image_id).snapshot)
        cfg["rootfs"]["diff_ids"].append(diff2)
        cfg["history"].append({"created": cfg["created"], "created_by": "motd"})
        id2 = svc.store.create(json.dumps(cfg).encode())
        await client.post(f"/images/{id2}/tag", params={"repo": "localhost:5000/two", "tag": "v1"})

        saved = await _save(client, "busybox", "localhost:5000/two:v1")
        files = _members(saved)
        assert {"index.json", "manifest.json", "oci-layout", "repositories"} <= set(files)
        for name, data in files.items():
            if name.startswith("blobs/sha256/") and data:
                assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
        manifest = json.loads(files["manifest.json"])
        assert [m["RepoTags"] for m in manifest] == [["busybox:latest"], ["localhost:5000/two:v1"]]
        assert len(manifest[1]["Layers"]) == 2
        index = json.loads(files["index.json"])
        assert [m["annotations"]["io.containerd.image.name"] for m in index["manifests"]] == [
            "docker.io/library/busybox:latest",
            "localhost:5000/two:v1",
        ]
        assert (
            json.loads(files["repositories"])["busybox"]["latest"] == manifest[0]["Layers"][-1][13:]
        )

        one = tmp_path / "one.tar"
        one.write_bytes(await _save(client, "localhost:5000/two:v1"))
        out = subprocess.run(
            ["skopeo", "inspect", "--raw", f"docker-archive:{one}"], capture_output=True, check=True
        )
        assert json.loads(out.stdout)["config"]["digest"] == id2
        out = subprocess.run(
            ["skopeo", "inspect", f"oci-archive:{one}"], capture_output=True, check=True
        )
        assert json.loads(out.stdout)["Layers"] == cfg["rootfs"]["diff_ids"]
        oci = tmp_path / "oci.tar"
        subprocess.run(
            ["skopeo", "copy", "-q", f"docker-archive:{one}", f"oci-archive:{oci}:copied"],
            capture_output=True,
            check=True,
        )
        dock = tmp_path / "dock.tar"
        subprocess.run(
            [
                "skopeo",
                "copy",
                "-q",
                f"docker-archive:{one}",
                f"docker-archive:{dock}:skopeo/img:t",
            ],
            capture_output=True,
            check=True,
        )

        # remove everything, then load back what we and skopeo wrote
        for name in ("busybox", "localhost:5000/two:v1"):
            r = await client.delete(f"/images/{name}")
            assert r.status == 200, await r.text()
        assert svc.store.ids() == [] and list(svc.snapshotter.walk()) == []
        lines = await _load(client, saved)
        assert [x["stream"] for x in lines] == [
            "Loaded image: busybox:latest\n",
            "Loaded image: localhost:5000/two:v1\n",
        ]
        assert svc.resolve("localhost:5000/two:v1").id == id2
        again = await _save(client, "busybox", "localhost:5000/two:v1")
        assert again == saved  # byte for byte
        assert svc.check(verify_digests=True) == []

        lines = await _load(client, oci.read_bytes())
        assert "error" not in lines[0], lines
        lines = await _load(client, dock.read_bytes())
        assert lines == [{"stream": "Loaded image: skopeo/img:t\n"}], lines
        assert svc.resolve("skopeo/img:t").id == id2
        assert svc.check(verify_digests=True) == []

    run(data_root, scenario)


def test_bad_archives_store_nothing(data_root: Path, busybox_tar: bytes) -> None:
    async def scenario(client: TestClient, svc: ImageService, events: EventBus) -> None:
        for bad in (
            b"garbage" * 500,
            _layer_tar({"x": b"1"}),
            _layer_tar({"manifest.json": b"[{]"}),
        ):
            lines = await _load(client, bad)
            assert "error" in lines[-1], lines
        # a valid archive whose config lies about the layer
        await _import(client, busybox_tar, repo="good")
        saved = _members(await _save(client, "good"))
        await client.delete("/images/good")
        manifest = json.loads(saved["manifest.json"])
        cfg = json.loads(saved[manifest[0]["Config"]])
        cfg["rootfs"]["diff_ids"] = ["sha256:" + "0" * 64]
        cfg_bytes = json.dumps(cfg).encode()
        cfg_path = "blobs/sha256/" + hashlib.sha256(cfg_bytes).hexdigest()
        manifest[0]["Config"] = cfg_path
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            for name, data in [
                (cfg_path, cfg_bytes),
                ("manifest.json", json.dumps(manifest).encode()),
            ] + [(n, d) for n, d in saved.items() if n in manifest[0]["Layers"]]:
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
        lines = await _load(client, buf.getvalue())
        assert "diff id" in lines[-1]["error"], lines
        assert svc.store.ids() == []
        assert list(svc.snapshotter.walk()) == []
        assert list(svc.content.walk()) == []
        assert os.listdir(svc.paths.ingest) == []

    run(data_root, scenario)


def test_prune_and_gc(data_root: Path, busybox_tar: bytes) -> None:
    async def scenario(client: TestClient, svc: ImageService, events: EventBus) -> None:
        kept = (await _import(client, busybox_tar, repo="kept"))["status"]
        dangling = (await _import(client, busybox_tar, changes=["ENV X=1"]))["status"]
        r = await client.post("/images/prune")
        body = await r.json()
        assert body["ImagesDeleted"] == [{"Deleted": dangling}], body
        assert svc.store.ids() == [kept]
        r = await client.post(
            "/images/prune", params={"filters": json.dumps({"dangling": ["false"]})}
        )
        body = await r.json()
        assert {"Untagged": "kept:latest"} in body["ImagesDeleted"] and body["SpaceReclaimed"] > 0
        assert svc.store.ids() == [] and list(svc.snapshotter.walk()) == []
        # gc sweeps what a crash could leave: an orphan blob, an unreferenced snapshot
        svc.content.add(b"orphan")
        svc.unpack_layer(io.BytesIO(_layer_tar({"a": b"b"})), None)
        got = svc.gc()
        assert (
            len(got.blobs) == 2 and len(got.snapshots) == 1 and len(got.layers) == 1
        )  # orphan + layer tar
        assert list(svc.content.walk()) == [] and list(svc.snapshotter.walk()) == []

    run(data_root, scenario)
