"""Image formats through a real daemon and the docker CLI: deep images (128
layers, beyond one page of overlay lowerdir), OCI indexes and Docker manifest
lists with platform selection, OCI 1.1 artifacts (artifactType, subject),
gzip and zstd layers under both media-type families, and umoci as a peer."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest
import zstandard

from dockyard.proto import image as fmt
from tests.conftest import Daemon

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
]


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o755
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _config(diff_ids: list[str], arch: str = "amd64", **extra: object) -> bytes:
    return json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/bin:/usr/bin:/sbin:/usr/sbin"], **extra},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": f"layer {i}"} for i in range(len(diff_ids))],
        }
    ).encode()


class Layout:
    """An OCI image layout being written: blobs by digest and an index."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def add(self, data: bytes, media_type: str, **extra: object) -> dict:
        self.blobs[_sha(data)] = data
        return fmt.descriptor(media_type, _sha(data), len(data), **extra)

    def image(
        self,
        layers: list[bytes],
        arch: str = "amd64",
        compress: str = "",
        docker: bool = False,
        label: str = "",
    ) -> tuple[dict, str]:
        """(manifest descriptor, image id) of an image of `layers` (uncompressed tars)."""
        cfg = _config([_sha(ly) for ly in layers], arch, Labels={"l": label} if label else None)
        descs = []
        for ly in layers:
            if compress == "gzip":
                data = gzip.compress(ly, mtime=0)
                mt = fmt.MT_DOCKER_LAYER_GZIP if docker else fmt.MT_OCI_LAYER_GZIP
            elif compress == "zstd":
                data, mt = zstandard.ZstdCompressor().compress(ly), fmt.MT_OCI_LAYER_ZSTD
            else:
                data = ly
                mt = fmt.MT_DOCKER_LAYER if docker else fmt.MT_OCI_LAYER
            descs.append(self.add(data, mt))
        config = self.add(cfg, fmt.MT_DOCKER_CONFIG if docker else fmt.MT_OCI_CONFIG)
        manifest = {
            "schemaVersion": 2,
            "mediaType": fmt.MT_DOCKER_MANIFEST if docker else fmt.MT_OCI_MANIFEST,
            "config": config,
            "layers": descs,
        }
        mt = manifest["mediaType"]
        return self.add(json.dumps(manifest).encode(), mt), _sha(cfg)

    def archive(self, index_manifests: list[dict]) -> bytes:
        index = {"schemaVersion": 2, "mediaType": fmt.MT_OCI_INDEX, "manifests": index_manifests}
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            files = [("oci-layout", fmt.OCI_LAYOUT), ("index.json", json.dumps(index).encode())]
            files += [(f"blobs/sha256/{d[7:]}", b) for d, b in self.blobs.items()]
            for name, data in files:
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
        return buf.getvalue()


def _named(desc: dict, name: str) -> dict:
    return dict(desc, annotations={fmt.ANNOTATION_IMAGE_NAME: name, fmt.ANNOTATION_REF_NAME: name.rsplit(":", 1)[1]})  # fmt: skip


def _load(daemon: Daemon, data: bytes, *args: str) -> str:
    r = daemon.docker("load", *args, input=data, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture
def name(daemon: Daemon) -> str:
    n = f"fmt-{uuid.uuid4().hex[:8]}"
    yield n
    out = daemon.docker("images", "--format", "{{.ID}}", "--filter", f"reference={n}*").stdout
    for line in set(out.split()):
        daemon.docker("rmi", "-f", line)


@pytest.fixture(scope="module")
def base_layer(busybox_rootfs_tar: Path) -> bytes:
    return busybox_rootfs_tar.read_bytes()


def test_128_layers_run(daemon: Daemon, base_layer: bytes, name: str) -> None:
    lay = Layout()
    layers = [base_layer] + [
        _layer({f"layers/{i:03d}": b"%d\n" % i, "top": b"%d\n" % i}) for i in range(1, 128)
    ]
    desc, image_id = lay.image(layers)
    out = _load(daemon, lay.archive([_named(desc, f"{name}:deep")]))
    assert out == f"Loaded image: {name}:deep\n"
    inspect = json.loads(daemon.docker("image", "inspect", f"{name}:deep").stdout)[0]
    assert inspect["Id"] == image_id and len(inspect["RootFS"]["Layers"]) == 128
    run = daemon.docker(
        "run", "--rm", f"{name}:deep", "sh", "-c", "ls /layers | wc -l; cat /top /layers/001"
    )
    assert (run.returncode, run.stdout) == (0, "127\n127\n1\n"), run.stderr
    hist = daemon.docker("history", "-q", f"{name}:deep").stdout.split()
    assert len(hist) == 128


def _arch_of(daemon: Daemon, ref: str) -> tuple[str, str]:
    out = daemon.docker("image", "inspect", "-f", "{{.Architecture}} {{.Config.Labels.l}}", ref)
    assert out.returncode == 0, out.stderr
    arch, label = out.stdout.split()
    return arch, label


@pytest.mark.parametrize("kind", ["oci-index", "docker-manifest-list"])
def test_index_platform_selection(daemon: Daemon, base_layer: bytes, name: str, kind: str) -> None:
    docker = kind == "docker-manifest-list"
    lay = Layout()
    entries = []
    for arch, variant in [("arm64", "v8"), ("amd64", ""), ("arm", "v6"), ("arm", "v7")]:
        desc, _ = lay.image(
            [base_layer, _layer({"arch": arch.encode()})],
            arch,
            compress="gzip",
            docker=docker,
            label=f"{arch}{variant}",
        )
        platform = {"architecture": arch, "os": "linux"}
        if variant:
            platform["variant"] = variant
        entries.append(dict(desc, platform=platform))
    # BuildKit's attestation manifest: unknown/unknown, an in-toto layer, never chosen
    att, _ = lay.image([_layer({"x": b"{}"})], "unknown")
    entries.append(
        dict(
            att,
            platform={"architecture": "unknown", "os": "unknown"},
            annotations={"vnd.docker.reference.type": "attestation-manifest"},
        )
    )
    index = {
        "schemaVersion": 2,
        "mediaType": fmt.MT_DOCKER_LIST if docker else fmt.MT_OCI_INDEX,
        "manifests": entries,
    }
    idx = lay.add(json.dumps(index).encode(), index["mediaType"])
    archive = lay.archive([_named(idx, f"{name}:multi")])
    assert _load(daemon, archive) == f"Loaded image: {name}:multi\n"
    assert _arch_of(daemon, f"{name}:multi") == ("amd64", "amd64")
    for platform, label in [("linux/arm64", "arm64v8"), ("linux/arm/v7", "armv7")]:
        # docker 28 wants API 1.48 for load --platform; ours sends it on 1.45
        r = daemon.dockyard("load", "--platform", platform, input=archive)
        assert r.stdout.startswith(f"The image {name}:multi already exists, renaming"), r.stderr
        assert r.stdout.endswith(f"to empty string\nLoaded image: {name}:multi\n")
        assert _arch_of(daemon, f"{name}:multi")[1] == label
    r = daemon.dockyard("load", "--platform", "linux/s390x", input=archive)
    assert r.returncode == 1 and "no image in the archive matches platform linux/s390x" in r.stderr


def test_oci_artifacts_are_not_images(daemon: Daemon, base_layer: bytes, name: str) -> None:
    """An OCI 1.1 layout: an image, a signature (artifactType + subject pointing
    at it) and an SBOM artifact with an empty config: only the image loads."""
    lay = Layout()
    desc, image_id = lay.image([base_layer], compress="zstd")
    empty = lay.add(b"{}", "application/vnd.oci.empty.v1+json")
    sig = {
        "schemaVersion": 2,
        "mediaType": fmt.MT_OCI_MANIFEST,
        "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        "config": empty,
        "layers": [lay.add(b"signature", "application/vnd.dev.cosign.simplesigning.v1+json")],
        "subject": desc,
        "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
    }
    sig_desc = lay.add(json.dumps(sig).encode(), fmt.MT_OCI_MANIFEST)
    sbom = dict(sig, artifactType=None, config=lay.add(b"{}", "application/spdx+json"))
    sbom_desc = lay.add(json.dumps(sbom).encode(), fmt.MT_OCI_MANIFEST)
    annotated = dict(_named(desc, f"{name}:art"))
    annotated["annotations"]["org.example.note"] = "kept"
    archive = lay.archive([annotated, dict(sig_desc, artifactType=sig["artifactType"]), sbom_desc])
    assert _load(daemon, archive) == f"Loaded image: {name}:art\n"
    got = json.loads(daemon.docker("image", "inspect", f"{name}:art").stdout)[0]
    assert got["Id"] == image_id
    run = daemon.docker("run", "--rm", f"{name}:art", "echo", "zstd layer ran")
    assert run.stdout == "zstd layer ran\n", run.stderr
    only = lay.archive([sig_desc, sbom_desc])
    r = daemon.docker("load", input=only)
    assert r.returncode == 1 and "only other platforms or artifacts" in r.stderr


@pytest.mark.skipif(shutil.which("umoci") is None, reason="umoci not installed")
def test_umoci_unpacks_what_we_save_and_we_load_what_it_repacks(
    daemon: Daemon, busybox_rootfs_tar: Path, tmp_path: Path, name: str
) -> None:
    saved = tmp_path / "saved.tar"
    daemon.docker("tag", "busybox:latest", f"{name}:src", check=True)
    assert daemon.dockyard("save", "-o", str(saved), f"{name}:src").returncode == 0
    layout = tmp_path / "layout"
    layout.mkdir()
    with tarfile.open(saved) as tf:
        tf.extractall(layout, filter="data")
    bundle = tmp_path / "bundle"
    r = subprocess.run(
        ["umoci", "unpack", "--image", f"{layout}:src", str(bundle)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    with tarfile.open(busybox_rootfs_tar) as tf:
        member = tf.extractfile("./bin/busybox")
        assert member is not None
        assert (bundle / "rootfs/bin/busybox").read_bytes() == member.read()
    spec = json.loads((bundle / "config.json").read_text())
    assert spec["process"]["args"] == ["sh"]
    # umoci changes the image (a new gzip layer, a new config) and we load the result
    (bundle / "rootfs/umoci-was-here").write_text("yes\n")
    r = subprocess.run(
        ["umoci", "repack", "--image", f"{layout}:changed", str(bundle)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    subprocess.run(
        ["umoci", "config", "--image", f"{layout}:changed", "--config.env", "UMOCI=1"],
        check=True,
        capture_output=True,
    )
    # a pure OCI layout now: our manifest.json (which umoci leaves alone) would win
    (layout / "manifest.json").unlink()
    (layout / "repositories").unlink()
    repacked = tmp_path / "repacked.tar"
    with tarfile.open(repacked, "w") as tf:
        for p in sorted(layout.rglob("*")):
            if p.is_file():
                tf.add(p, str(p.relative_to(layout)))
    r = daemon.docker("load", "-i", str(repacked))
    assert r.returncode == 0, r.stderr
    # umoci copied the image-name annotation: both entries are NAME:src, the later wins
    lines = r.stdout.splitlines()
    assert lines[0] == lines[-1] == f"Loaded image: {name}:src", lines
    assert f"The image {name}:src already exists, renaming the old one" in lines[1]
    run = daemon.docker(
        "run", "--rm", f"{name}:src", "sh", "-c", "cat /umoci-was-here; echo $UMOCI"
    )
    assert run.stdout == "yes\n1\n", run.stderr
