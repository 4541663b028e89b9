"""Platform selection from an index and telling images from OCI 1.1 artifacts (pure)."""

from __future__ import annotations

from dockyard.proto.image import is_image_manifest, select_platform

AMD64 = {"digest": "a", "platform": {"os": "linux", "architecture": "amd64"}}
ARM64 = {"digest": "b", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}
ARM_NOVARIANT = {"digest": "c", "platform": {"os": "linux", "architecture": "arm"}}
ARMV7 = {"digest": "d", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}}
ATTESTATION = {
    "digest": "e",
    "platform": {"os": "unknown", "architecture": "unknown"},
    "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
}
ALL = [ATTESTATION, AMD64, ARM64, ARM_NOVARIANT, ARMV7]


def test_select_platform() -> None:
    assert select_platform(ALL, ("linux", "amd64", "")) is AMD64
    assert select_platform(ALL, ("linux", "arm64", "v8")) is ARM64
    assert select_platform(ALL, ("linux", "arm64", "")) is ARM64
    assert select_platform(ALL, ("linux", "arm", "v7")) is ARMV7  # exact variant first
    assert select_platform(ALL, ("linux", "arm", "v6")) is ARM_NOVARIANT
    assert select_platform(ALL, ("linux", "s390x", "")) is None
    assert select_platform([ATTESTATION], ("unknown", "unknown", "")) is None
    assert select_platform([{"digest": "x"}], ("linux", "amd64", "")) == {"digest": "x"}


def test_is_image_manifest() -> None:
    image = {"config": {"mediaType": "application/vnd.oci.image.config.v1+json"}}
    docker = {"config": {"mediaType": "application/vnd.docker.container.image.v1+json"}}
    assert is_image_manifest(image) and is_image_manifest(docker) and is_image_manifest({})
    assert not is_image_manifest(dict(image, artifactType="application/x.sig"))
    assert not is_image_manifest({"config": {"mediaType": "application/vnd.oci.empty.v1+json"}})
    assert not is_image_manifest(image, {"artifactType": "application/x.sbom"})
    assert not is_image_manifest(image, ATTESTATION)
