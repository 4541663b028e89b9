"""The registry client's storage protocols (registry/client/sink.py) as a contract:
pull into and push out of every implementation, against our registry. Two
implementations: the image service, and the three stores alone in a temp dir (no
service), which shows that pull and push use nothing else of the service."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.daemon.services.events import EventBus
from dockyard.daemon.services.images import open_image_service
from dockyard.proto import image as fmt
from dockyard.proto import reference as refs
from dockyard.registry.client.metadata import DistributionMetadata
from dockyard.registry.client.pull import Puller
from dockyard.registry.client.push import Pusher
from dockyard.registry.client.sink import PullSink, PushSource
from dockyard.registry.client.transport import Transport
from dockyard.snapshot import OverlaySnapshotter
from dockyard.store import archive
from dockyard.store.content import FileContentStore
from dockyard.store.images import ImageStore
from dockyard.store.paths import StorePaths
from tests.integration.registry.peers import Registry

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


class Stores:
    """A PullSink and PushSource of its own: the stores, no image service."""

    def __init__(self, root: Path) -> None:
        paths = StorePaths.under(root)
        for d in paths.all_dirs():
            d.mkdir(parents=True, exist_ok=True)
        self.content = FileContentStore(paths)
        self.store = ImageStore(str(paths.db), self.content)
        self.snapshotter = OverlaySnapshotter.open(root)
        self.ingest_dir = paths.ingest

    def close(self) -> None:
        self.store.close()
        self.snapshotter.close()


@pytest.fixture(params=["stores", "image_service"])
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    if request.param == "stores":
        impl = Stores(tmp_path / "root")
    else:
        impl = open_image_service(tmp_path / "root", EventBus())  # type: ignore[assignment]
    try:
        yield impl
    finally:
        impl.close()


def sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def _layer() -> tuple[bytes, bytes]:
    """(the tar, the gzipped tar) of a one-file layer."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = uuid.uuid4().bytes
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue(), gzip.compress(buf.getvalue())


def _put_blob(reg: Registry, repo: str, data: bytes) -> None:
    loc = reg.req("POST", f"/v2/{repo}/blobs/uploads/").headers["Location"]
    sep = "&" if "?" in loc else "?"
    r = reg.req("PUT", f"{loc}{sep}digest={sha(data)}", data=data)
    assert r.status_code == 201, r.text


def _seed(reg: Registry, repo: str) -> tuple[bytes, bytes, str]:
    """An image on the registry as repo:v1; (config, gzipped layer, layer's diff id)."""
    tar, gz = _layer()
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha(tar)]},
    }).encode()  # fmt: skip
    _put_blob(reg, repo, config)
    _put_blob(reg, repo, gz)
    manifest = {
        "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": DOCKER_LAYER, "digest": sha(gz), "size": len(gz)}],
    }  # fmt: skip
    r = reg.req("PUT", f"/v2/{repo}/manifests/v1", data=json.dumps(manifest),
                headers={"Content-Type": DOCKER_MANIFEST})  # fmt: skip
    assert r.status_code == 201, r.text
    return config, gz, sha(tar)


def test_pull_then_push_through_the_sink(ours: Registry, sink: Stores, tmp_path: Path) -> None:
    repo = f"sink/r{uuid.uuid4().hex[:10]}"
    config, gz, diff_id = _seed(ours, repo)
    meta = DistributionMetadata(str(tmp_path / "meta.json"))
    messages: list[dict] = []
    pull_sink: PullSink = sink
    push_source: PushSource = sink

    async def pull() -> str:
        async with Transport(ours.addr) as t:
            ref = refs.parse_normalized(f"{ours.addr}/{repo}:v1")
            image_id, digest, new = await Puller(pull_sink, meta, messages.append).pull(
                t, ref, ("linux", "amd64", "")
            )
            assert new and digest.startswith("sha256:")
            return image_id

    image_id = asyncio.run(pull())
    assert image_id == sha(config)
    assert pull_sink.store.exists(image_id)
    layer = pull_sink.store.layer(diff_id)
    assert layer is not None and layer.blob == sha(gz)  # the blob as it came
    assert pull_sink.content.read(sha(gz)) == gz
    pull_sink.snapshotter.stat(fmt.chain_ids([diff_id])[0])  # unpacked (raises if not)

    target = f"sink/p{uuid.uuid4().hex[:10]}"

    async def push() -> str:
        async with Transport(ours.addr) as t:
            pusher = Pusher(push_source, meta, messages.append)
            digest, _ = await pusher.push(t, target, "v2", push_source.store.get(image_id))
            return digest

    digest = asyncio.run(push())
    r = ours.req("GET", f"/v2/{target}/manifests/v2", headers={"Accept": DOCKER_MANIFEST})
    assert sha(r.content) == digest
    manifest = r.json()
    assert manifest["config"]["digest"] == image_id
    assert [x["digest"] for x in manifest["layers"]] == [sha(gz)]
    assert ours.req("GET", f"/v2/{target}/blobs/{sha(gz)}").content == gz
    assert not list(push_source.ingest_dir.glob("push-*"))  # its temporary copies are gone


def test_push_of_a_local_layer(ours: Registry, sink: Stores, tmp_path: Path) -> None:
    """A layer made here (stored as a plain tar) is compressed into the ingest dir,
    uploaded, and its copy removed."""
    tar, _ = _layer()
    layer = archive.unpack_layer(sink.content, sink.store, sink.snapshotter, io.BytesIO(tar), None)
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
    }).encode()  # fmt: skip
    image_id = sink.store.create(config)
    source: PushSource = sink
    target = f"sink/l{uuid.uuid4().hex[:10]}"

    async def push() -> str:
        async with Transport(ours.addr) as t:
            meta = DistributionMetadata(str(tmp_path / "meta.json"))
            pusher = Pusher(source, meta, lambda m: None)
            digest, _ = await pusher.push(t, target, "v1", source.store.get(image_id))
            return digest

    digest = asyncio.run(push())
    manifest = ours.req("GET", f"/v2/{target}/manifests/{digest}",
                        headers={"Accept": DOCKER_MANIFEST}).json()  # fmt: skip
    (desc,) = manifest["layers"]
    blob = ours.req("GET", f"/v2/{target}/blobs/{desc['digest']}").content
    assert gzip.decompress(blob) == tar
    assert not list(source.ingest_dir.glob("push-*"))
