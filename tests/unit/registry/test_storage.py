"""Registry storage over every driver: the storage rules (verified uploads, dedupe,
links, tags, referrers, gc). The drivers' own contract: tests/conformance/."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from dockyard.registry import proto
from dockyard.registry.proto import RegistryError
from dockyard.registry.server.driver import (
    FilesystemDriver,
    InMemoryDriver,
    StorageDriver,
)
from dockyard.registry.server.gc import collect
from dockyard.registry.server.storage import RegistryStorage, blob_path


def sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


@pytest.fixture(params=["filesystem", "memory"])
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> StorageDriver:
    """The storage rules hold over every StorageDriver."""
    if request.param == "memory":
        return InMemoryDriver()
    return FilesystemDriver(str(tmp_path / "root"))


@pytest.fixture
def storage(driver: StorageDriver) -> RegistryStorage:
    return RegistryStorage(driver)


def upload(s: RegistryStorage, repo: str, data: bytes, digest: str | None = None) -> int:
    up = s.start_upload(repo)
    with up.open() as f:
        f.write(data)
    up.wrote(data)
    return s.finish_upload(up, digest or sha(data))


def test_upload_verified_and_deduplicated(storage: RegistryStorage) -> None:
    data = b"layer" * 1000
    assert upload(storage, "a", data) == len(data)
    assert upload(storage, "b", data) == len(data)
    assert storage.blob_size("a", sha(data)) == storage.blob_size("b", sha(data)) == len(data)
    assert storage.all_blobs() == [sha(data)]  # stored once
    with pytest.raises(RegistryError) as e:
        upload(storage, "a", b"other", sha(b"not other"))
    assert e.value.code == "DIGEST_INVALID"
    assert storage.global_blob_size(sha(b"not other")) is None
    assert storage.blob_size("c", sha(data)) is None  # not linked into c


def test_upload_resumes_after_restart(storage: RegistryStorage) -> None:
    up = storage.start_upload("r")
    with up.open() as f:
        f.write(b"first half ")
    up.wrote(b"first half ")
    again = RegistryStorage(storage.driver)  # a new process over the same storage
    up2 = again.upload("r", up.id)
    up2.resync()
    assert up2.offset == len(b"first half ")
    with up2.open() as f:
        f.write(b"second")
    up2.wrote(b"second")
    assert again.finish_upload(up2, sha(b"first half second")) == 17
    with pytest.raises(RegistryError):
        again.upload("r", "../../etc")


def manifest(cfg: str, layers: list[str], **kw: object) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": proto.OCI_MANIFEST,
        "config": {"mediaType": proto.OCI_CONFIG, "digest": cfg, "size": 2},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": 1}
            for d in layers
        ],
    }
    doc.update(kw)
    return json.dumps(doc).encode()


def test_manifests_tags_referrers_and_gc(storage: RegistryStorage) -> None:
    cfg, layer, orphan = b"{}", b"L", b"orphan"
    for b in (cfg, layer, orphan):
        upload(storage, "r", b)
    with pytest.raises(RegistryError) as e:
        storage.put_manifest("r", "t", manifest(sha(cfg), [sha(b"missing")]), proto.OCI_MANIFEST)
    assert e.value.code == "MANIFEST_BLOB_UNKNOWN"
    body = manifest(sha(cfg), [sha(layer)])
    m, subject = storage.put_manifest("r", "t", body, proto.OCI_MANIFEST)
    assert m.digest == sha(body) and subject is None
    assert storage.get_manifest("r", "t").body == body
    assert storage.tags("r") == ["t"]
    art = manifest(
        sha(cfg), [], artifactType="x/sig", subject={"digest": m.digest, "size": len(body)}
    )
    a, subject = storage.put_manifest("r", sha(art), art, proto.OCI_MANIFEST)
    assert subject == m.digest
    assert [d["digest"] for d in storage.referrers("r", m.digest)] == [a.digest]
    assert storage.referrers("r", m.digest, "other/type") == []
    assert storage.catalog() == ["r"]
    lines = collect(storage, dry_run=True)
    assert f"blob eligible for deletion: {sha(orphan)}" in lines
    collect(storage)
    assert storage.global_blob_size(sha(orphan)) is None
    assert storage.global_blob_size(sha(layer)) == 1
    # --delete-untagged keeps tagged manifests and the referrers of kept ones
    collect(storage, delete_untagged=True)
    assert storage.global_blob_size(a.digest) is not None
    assert storage.global_blob_size(m.digest) is not None
    storage.delete_manifest("r", "t")  # untag (OCI 1.1 tag delete)
    collect(storage, delete_untagged=True)
    for gone in (m.digest, a.digest, sha(layer)):
        assert storage.driver.size(blob_path(gone)) is None


def test_gc_purges_abandoned_uploads(storage: RegistryStorage) -> None:
    up = storage.start_upload("a/b")
    assert [(r, i) for r, i, _ in storage.uploads()] == [("a/b", up.id)]
    assert not any("abandoned" in line for line in collect(storage))  # fresh: kept
    lines = collect(storage, upload_max_age=-1)
    assert f"a/b: upload {up.id} abandoned, removed" in lines
    assert storage.uploads() == []
    with pytest.raises(RegistryError):
        storage.upload("a/b", up.id)
