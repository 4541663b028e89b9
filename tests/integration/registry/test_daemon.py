"""dockyardd pulls from and pushes to registries, driven by the official
docker CLI and docker-py: our `dockyard registry serve` and Debian's
docker-registry (distribution 2.8), plain, with htpasswd and with token auth."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.conftest import Daemon, inspect
from tests.integration.registry.peers import Registry


def blob_files(reg: Registry) -> set[str]:
    return {p.parent.name for p in (reg.root / "data").rglob("blobs/sha256/*/*/data")} | {
        p.name for p in (reg.root / "data").rglob("docker/registry/v2/blobs/sha256/*/*")
    }


def uniq() -> str:
    return uuid.uuid4().hex[:8]


def _skopeo_push(src: Path, dest: str) -> None:
    import subprocess

    r = subprocess.run(
        ["skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false", f"oci:{src}:latest", f"docker://{dest}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


def test_push_twice_pull_run(daemon: Daemon, registry: Registry) -> None:
    ref = f"{registry.addr}/dy/bb{uniq()}:v1"
    daemon.docker("tag", "busybox:latest", ref, check=True)
    try:
        r = daemon.docker("push", ref, check=True)
        assert "Pushed" in r.stdout, r.stdout
        assert "digest: sha256:" in r.stdout
        before = blob_files(registry)
        r = daemon.docker("push", ref, check=True)
        assert "Pushed" not in r.stdout and "Layer already exists" in r.stdout, r.stdout
        assert blob_files(registry) == before
        daemon.docker("rmi", ref, check=True)
        r = daemon.docker("pull", ref, check=True)
        assert "Download complete" in r.stdout or "Already exists" in r.stdout, r.stdout
        assert f"Status: Downloaded newer image for {ref}" in r.stdout
        info = inspect(daemon, ref)
        repo = ref.rsplit(":", 1)[0]
        assert any(d.startswith(repo + "@sha256:") for d in info["RepoDigests"]), info
        r = daemon.docker("pull", ref, check=True)
        assert "Image is up to date" in r.stdout, r.stdout
        r = daemon.docker("run", "--rm", ref, "echo", "pulled-ok", check=True)
        assert r.stdout.strip() == "pulled-ok"
    finally:
        daemon.docker("rmi", "-f", ref)


def test_pull_fresh_layers_and_by_digest(daemon: Daemon, ours: Registry, tmp_path: Path) -> None:
    """A multi-layer image made elsewhere (pushed by skopeo) pulled into the daemon,
    by tag and by digest; layers are downloaded, verified, unpacked in order."""

    from tests.integration.registry.images import make_oci_layout

    src = make_oci_layout(
        tmp_path / "oci",
        layers=[
            {"a.txt": b"one"},
            {"b.txt": b"two", "a.txt": b"changed"},
            {"c/d.txt": b"x" * 100000},
        ],
    )
    name = f"{ours.addr}/fresh/img{uniq()}"
    _skopeo_push(src.path, f"{name}:t")
    try:
        r = daemon.docker("pull", f"{name}:t", check=True)
        assert r.stdout.count("Pull complete") == 3, r.stdout
        r = daemon.docker("pull", f"{name}@{src.manifest_digest}", check=True)
        assert "Digest: " + src.manifest_digest in r.stdout
        info = inspect(daemon, f"{name}:t")
        assert (
            info["RootFS"]["Layers"]
            == json.loads((src.path / "blobs" / "sha256" / src.config_digest[7:]).read_text())[
                "rootfs"
            ]["diff_ids"]
        )
    finally:
        daemon.docker("rmi", "-f", f"{name}:t")


def test_cross_repository_mount(daemon: Daemon, ours: Registry) -> None:
    a, b = f"{ours.addr}/m/a{uniq()}:1", f"{ours.addr}/m/b{uniq()}:1"
    daemon.docker("tag", "busybox:latest", a, check=True)
    daemon.docker("tag", "busybox:latest", b, check=True)
    try:
        daemon.docker("push", a, check=True)
        r = daemon.docker("push", b, check=True)
        assert "Mounted from m/a" in r.stdout, r.stdout
        assert "Pushed" not in r.stdout
    finally:
        daemon.docker("rmi", "-f", a, b)


def test_wrong_digest_rejected(daemon: Daemon, ours: Registry, tmp_path: Path) -> None:
    """A registry serving a layer whose bytes do not match its digest: the pull
    fails with docker's message and leaves no image behind."""

    from tests.integration.registry.images import make_oci_layout

    src = make_oci_layout(tmp_path / "oci", seed=7)
    ref = f"{ours.addr}/bad/img{uniq()}:1"
    _skopeo_push(src.path, f"{ref}")
    layer = src.layer_digests[-1][7:]
    path = next((ours.root / "data" / "blobs").rglob(f"{layer}/data"))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different content
    path.write_bytes(bytes(data))
    r = daemon.docker("pull", ref)
    assert r.returncode != 0
    assert "filesystem layer verification failed for digest" in r.stdout + r.stderr, r.stdout
    assert daemon.docker("image", "inspect", ref).returncode != 0


def test_docker_hub_is_never_contacted(daemon: Daemon) -> None:
    r = daemon.docker("pull", "busybox:1.36")
    assert r.returncode != 0
    assert "does not contact Docker Hub" in r.stderr


def test_unknown_manifest(daemon: Daemon, ours: Registry) -> None:
    r = daemon.docker("pull", f"{ours.addr}/nothing/here:1")
    assert r.returncode != 0
    assert "not found" in r.stderr and "manifest unknown" in r.stderr, r.stderr


@pytest.mark.parametrize("kind", ["token", "basic"])
def test_login_push_pull_with_auth(
    daemon: Daemon, kind: str, token_registry: Registry, basic_registry: Registry
) -> None:
    reg = token_registry if kind == "token" else basic_registry
    ref = f"{reg.addr}/alice/img{uniq()}:1"
    daemon.docker("tag", "busybox:latest", ref, check=True)
    try:
        r = daemon.docker("push", ref)
        # dockerd's words without credentials (a Basic challenge left unanswered; a
        # Bearer token with insufficient_scope)
        said = "no basic auth credentials" if kind == "basic" else "denied: requested access"
        assert r.returncode != 0 and said in r.stdout + r.stderr, r.stdout + r.stderr
        r = daemon.docker("login", "-u", "alice", "--password-stdin", reg.addr, input=b"wrong\n")
        assert r.returncode != 0, r.stdout
        r = daemon.docker("login", "-u", "alice", "--password-stdin", reg.addr, input=b"s3cret\n")
        assert r.returncode == 0 and "Login Succeeded" in r.stdout, r.stderr
        r = daemon.docker("push", ref, check=True)
        assert "digest: sha256:" in r.stdout
        daemon.docker("rmi", ref, check=True)
        daemon.docker("pull", ref, check=True)
        if kind == "token":  # rights are per repository: alice may not push elsewhere
            other = f"{reg.addr}/bob/img{uniq()}:1"
            daemon.docker("tag", "busybox:latest", other, check=True)
            r = daemon.docker("push", other)
            daemon.docker("rmi", other)
            assert r.returncode != 0
    finally:
        daemon.docker("logout", reg.addr)
        daemon.docker("rmi", "-f", ref)


def test_docker_py_pull_and_distribution_inspect(daemon: Daemon, ours: Registry) -> None:
    import docker

    repo = f"{ours.addr}/py/img{uniq()}"
    daemon.docker("tag", "busybox:latest", f"{repo}:1", check=True)
    daemon.docker("push", f"{repo}:1", check=True)
    daemon.docker("rmi", f"{repo}:1", check=True)
    client = docker.DockerClient(base_url=daemon.host)
    try:
        img = client.images.pull(repo, tag="1")
        assert f"{repo}:1" in img.tags
        data = client.images.get_registry_data(f"{repo}:1")
        assert data.id.startswith("sha256:")
        assert data.has_platform("linux/amd64") or data.platforms
    finally:
        client.close()
        daemon.docker("rmi", "-f", f"{repo}:1")


def test_interrupted_download_resumes(daemon: Daemon, ours: Registry, tmp_path: Path) -> None:
    """Each layer's first download (above 1 KiB) breaks halfway; the pull resumes with a
    Range request and succeeds."""

    from tests.integration.registry.flaky import FlakyProxy
    from tests.integration.registry.images import make_oci_layout

    src = make_oci_layout(
        tmp_path / "oci",
        layers=[{"big.bin": __import__("os").urandom(3 << 20)}, {"x": b"y" * 5000}],
    )
    name = f"resume/img{uniq()}"
    _skopeo_push(src.path, f"{ours.addr}/{name}:1")
    with FlakyProxy(ours.url) as proxy:
        ref = f"{proxy.addr}/{name}:1"
        try:
            r = daemon.docker("pull", ref)
            assert r.returncode == 0, r.stdout + r.stderr
            assert r.stdout.count("Pull complete") == 2
            assert src.layer_digests[0] in proxy.cut  # the large layer broke once
            assert any(
                rg.startswith("bytes=") and not rg.startswith("bytes=0-") for rg in proxy.ranges
            ), proxy.ranges
        finally:
            daemon.docker("rmi", "-f", ref)


def test_push_and_pull_all_tags(daemon: Daemon, ours: Registry) -> None:
    repo = f"{ours.addr}/all/img{uniq()}"
    for t in ("a", "b"):
        daemon.docker("tag", "busybox:latest", f"{repo}:{t}", check=True)
    try:
        r = daemon.docker("push", "--all-tags", repo, check=True)
        assert "a: digest:" in r.stdout and "b: digest:" in r.stdout, r.stdout
        tags = ours.req("GET", f"/v2/{repo.split('/', 1)[1]}/tags/list").json()["tags"]
        assert tags == ["a", "b"]
        daemon.docker("rmi", f"{repo}:a", f"{repo}:b", check=True)
        daemon.docker("pull", "--all-tags", repo, check=True)
        for t in ("a", "b"):
            assert inspect(daemon, f"{repo}:{t}")["RepoTags"]
    finally:
        daemon.docker("rmi", "-f", f"{repo}:a", f"{repo}:b")


def test_registry_mirror_for_docker_hub_names(
    daemon: Daemon, ours: Registry, tmp_path: Path
) -> None:
    """With --registry-mirror, `docker pull name` (a docker.io name) is served by the
    mirror, and the image keeps its familiar name."""
    from tests.conftest import kill_leftovers, start_daemon, stop_daemon

    name = f"mirrored{uniq()}"
    daemon.docker("tag", "busybox:latest", f"{ours.addr}/library/{name}:1", check=True)
    daemon.docker("push", f"{ours.addr}/library/{name}:1", check=True)
    daemon.docker("rmi", f"{ours.addr}/library/{name}:1", check=True)
    root = tmp_path / "mirror-daemon"
    root.mkdir()
    d = start_daemon(root, ["--registry-mirror", ours.url])
    try:
        r = d.docker("pull", f"{name}:1")
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"Status: Downloaded newer image for {name}:1" in r.stdout
        assert inspect(d, f"{name}:1")["RepoTags"] == [f"{name}:1"]
    finally:
        stop_daemon(d)
        kill_leftovers(root)


def test_run_pulls_a_missing_image(daemon: Daemon, ours: Registry) -> None:
    """`docker run` of an image that is only in the registry: the CLI pulls it through
    `POST /images/create` after the daemon's 404, then runs it."""
    ref = f"{ours.addr}/run/img{uniq()}:1"
    daemon.docker("tag", "busybox:latest", ref, check=True)
    daemon.docker("push", ref, check=True)
    daemon.docker("rmi", ref, check=True)
    try:
        r = daemon.docker("run", "--rm", ref, "echo", "auto-pulled")
        assert r.returncode == 0, r.stderr
        assert "auto-pulled" in r.stdout
        assert "Unable to find image" in r.stderr
    finally:
        daemon.docker("rmi", "-f", ref)


def test_pull_chooses_platform_from_index_and_pushes_oci_back(
    daemon: Daemon, ours: Registry, tmp_path: Path
) -> None:
    from tests.integration.registry.images import make_oci_layout

    repo = f"plat/img{uniq()}"
    amd = make_oci_layout(tmp_path / "amd", seed=21)
    arm = make_oci_layout(tmp_path / "arm", seed=22)
    _skopeo_push(amd.path, f"{ours.addr}/{repo}:amd")
    _skopeo_push(arm.path, f"{ours.addr}/{repo}:arm")
    entries = []
    for lay, arch in ((arm, "arm64"), (amd, "amd64")):
        body = (lay.path / "blobs" / "sha256" / lay.manifest_digest[7:]).read_bytes()
        entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": lay.manifest_digest,
                        "size": len(body), "platform": {"os": "linux", "architecture": arch}})  # fmt: skip
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        }
    )
    r = ours.req("PUT", f"/v2/{repo}/manifests/multi", data=index,
                 headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})  # fmt: skip
    assert r.status_code == 201, r.text
    ref = f"{ours.addr}/{repo}:multi"
    try:
        daemon.docker("pull", ref, check=True)
        assert inspect(daemon, ref)["Id"] == amd.config_digest
        daemon.docker("rmi", ref, check=True)
        daemon.docker("pull", "--platform", "linux/arm64", ref, check=True)
        assert inspect(daemon, ref)["Id"] == arm.config_digest
        # an image that came in as OCI goes out as OCI, its layers mounted, not re-sent
        again = f"{ours.addr}/{repo}-copy:1"
        daemon.docker("tag", ref, again, check=True)
        r = daemon.docker("push", again, check=True)
        assert "Pushed" not in r.stdout, r.stdout
        r = ours.req(
            "GET",
            f"/v2/{repo}-copy/manifests/1",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert r.headers["Content-Type"] == "application/vnd.oci.image.manifest.v1+json"
        assert [layer["digest"] for layer in r.json()["layers"]] == arm.layer_digests
        daemon.docker("rmi", again)
    finally:
        daemon.docker("rmi", "-f", ref)
