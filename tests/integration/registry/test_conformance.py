"""The distribution spec, endpoint by endpoint and error code by error code,
against `dockyard registry serve` and Debian's docker-registry (distribution
2.8). Where 2.8 predates a part of OCI distribution 1.1 (referrers, tag
deletes), the test says so and checks only ours."""

from __future__ import annotations

import hashlib
import json
import os
import uuid

import pytest

from tests.integration.registry.peers import Registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def repo() -> str:
    return f"conf/r{uuid.uuid4().hex[:10]}"


def code(r) -> str:  # noqa: ANN001
    return r.json()["errors"][0]["code"]


def push_blob(reg: Registry, name: str, data: bytes) -> str:
    d = sha(data)
    r = reg.req("POST", f"/v2/{name}/blobs/uploads/?digest={d}", data=data)
    if r.status_code == 202 and reg.kind == "distribution":
        # distribution 2.8 ignores a single-POST body and opens an upload
        loc = r.headers["Location"]
        r = reg.req("PUT", f"{loc}&digest={d}", data=data)
    assert r.status_code == 201, r.text
    return d


def push_image(
    reg: Registry, name: str, tag: str, media_type: str = OCI_MANIFEST
) -> tuple[str, bytes]:
    cfg = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []},
            "n": os.urandom(4).hex(),
        }
    ).encode()
    layer = os.urandom(300)
    cd, ld = push_blob(reg, name, cfg), push_blob(reg, name, layer)
    docker = media_type == DOCKER_MANIFEST
    m = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json"
                if docker
                else "application/vnd.oci.image.config.v1+json",
                "digest": cd,
                "size": len(cfg),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"
                    if docker
                    else "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": ld,
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    r = reg.req("PUT", f"/v2/{name}/manifests/{tag}", data=m, headers={"Content-Type": media_type})
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == sha(m)
    return sha(m), m


def test_base(registry: Registry) -> None:
    r = registry.req("GET", "/v2/")
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_monolithic_upload_and_blob_get_head(registry: Registry) -> None:
    name, data = repo(), os.urandom(5000)
    d = push_blob(registry, name, data)
    r = registry.req("HEAD", f"/v2/{name}/blobs/{d}")
    assert r.status_code == 200
    assert int(r.headers["Content-Length"]) == len(data)
    assert r.headers["Docker-Content-Digest"] == d
    r = registry.req("GET", f"/v2/{name}/blobs/{d}")
    assert r.status_code == 200 and r.content == data


def test_blob_range(registry: Registry) -> None:
    name, data = repo(), os.urandom(1000)
    d = push_blob(registry, name, data)
    r = registry.req("GET", f"/v2/{name}/blobs/{d}", headers={"Range": "bytes=10-19"})
    assert r.status_code == 206
    assert r.content == data[10:20]
    assert r.headers["Content-Range"] == "bytes 10-19/1000"
    if registry.kind == "distribution":
        return  # 2.8 answers an unsatisfiable range with a torn body
    r = registry.req("GET", f"/v2/{name}/blobs/{d}", headers={"Range": "bytes=5000-"})
    assert r.status_code == 416


def test_post_put_upload(registry: Registry) -> None:
    name, data = repo(), os.urandom(2000)
    r = registry.req("POST", f"/v2/{name}/blobs/uploads/")
    assert r.status_code == 202
    loc = r.headers["Location"]
    assert r.headers["Docker-Upload-UUID"]
    sep = "&" if "?" in loc else "?"
    r = registry.req(
        "PUT",
        f"{loc}{sep}digest={sha(data)}",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == sha(data)
    assert registry.req("GET", f"/v2/{name}/blobs/{sha(data)}").content == data


def test_chunked_upload_status_and_resume(registry: Registry) -> None:
    name, data = repo(), os.urandom(30)
    loc = registry.req("POST", f"/v2/{name}/blobs/uploads/").headers["Location"]
    h = {"Content-Type": "application/octet-stream"}
    r = registry.req("PATCH", loc, data=data[:10], headers={**h, "Content-Range": "0-9"})
    assert r.status_code == 202, r.text
    assert r.headers["Range"] == "0-9"
    loc = r.headers["Location"]
    # a client that lost its connection asks where it was
    r = registry.req("GET", loc)
    assert r.status_code == 204
    assert r.headers["Range"] == "0-9"
    # out of order: 416
    if registry.kind != "distribution":  # 2.8 does not check a chunk's start (takes it: 202)
        r = registry.req("PATCH", loc, data=data[20:], headers={**h, "Content-Range": "20-29"})
        assert r.status_code == 416
    r = registry.req("PATCH", loc, data=data[10:], headers={**h, "Content-Range": "10-29"})
    assert r.status_code == 202, r.text
    assert r.headers["Range"] == "0-29"
    loc = r.headers["Location"]
    sep = "&" if "?" in loc else "?"
    r = registry.req("PUT", f"{loc}{sep}digest={sha(data)}")
    assert r.status_code == 201, r.text
    assert registry.req("GET", f"/v2/{name}/blobs/{sha(data)}").content == data


def test_single_post_upload(registry: Registry) -> None:
    name, data = repo(), os.urandom(100)
    r = registry.req("POST", f"/v2/{name}/blobs/uploads/?digest={sha(data)}", data=data)
    if registry.kind == "distribution":
        assert r.status_code == 202  # 2.8 predates single-POST uploads
        return
    assert r.status_code == 201
    assert r.headers["Location"].endswith(f"/v2/{name}/blobs/{sha(data)}")


def test_wrong_digest_rejected_and_invisible(registry: Registry) -> None:
    name, data = repo(), os.urandom(100)
    wrong = sha(b"something else")
    loc = registry.req("POST", f"/v2/{name}/blobs/uploads/").headers["Location"]
    sep = "&" if "?" in loc else "?"
    r = registry.req("PUT", f"{loc}{sep}digest={wrong}", data=data)
    assert r.status_code == 400
    assert code(r) == "DIGEST_INVALID"
    assert registry.req("HEAD", f"/v2/{name}/blobs/{wrong}").status_code == 404
    assert registry.req("HEAD", f"/v2/{name}/blobs/{sha(data)}").status_code == 404


def test_invalid_digest_string(registry: Registry) -> None:
    name = repo()
    loc = registry.req("POST", f"/v2/{name}/blobs/uploads/").headers["Location"]
    sep = "&" if "?" in loc else "?"
    r = registry.req("PUT", f"{loc}{sep}digest=sha256:nothex", data=b"x")
    assert r.status_code == 400
    assert code(r) == "DIGEST_INVALID"


def test_cancel_upload(registry: Registry) -> None:
    name = repo()
    loc = registry.req("POST", f"/v2/{name}/blobs/uploads/").headers["Location"]
    assert registry.req("DELETE", loc).status_code == 204
    r = registry.req("GET", loc)
    assert r.status_code == 404
    assert code(r) == "BLOB_UPLOAD_UNKNOWN"


def test_blob_unknown(registry: Registry) -> None:
    name = repo()
    push_blob(registry, name, b"exists")
    r = registry.req("GET", f"/v2/{name}/blobs/{sha(b'nope')}")
    assert r.status_code == 404
    assert code(r) == "BLOB_UNKNOWN"


def test_cross_repo_mount(registry: Registry) -> None:
    a, b, data = repo(), repo(), os.urandom(100)
    d = push_blob(registry, a, data)
    r = registry.req("POST", f"/v2/{b}/blobs/uploads/?mount={d}&from={a}")
    assert r.status_code == 201
    assert r.headers["Docker-Content-Digest"] == d
    assert registry.req("GET", f"/v2/{b}/blobs/{d}").content == data
    # unknown blob: the registry starts an ordinary upload instead
    r = registry.req("POST", f"/v2/{b}/blobs/uploads/?mount={sha(b'no')}&from={a}")
    assert r.status_code == 202
    registry.req("DELETE", r.headers["Location"])


def test_manifest_put_get_head_by_tag_and_digest(registry: Registry) -> None:
    name = repo()
    for mt in (OCI_MANIFEST, DOCKER_MANIFEST):
        d, body = push_image(registry, name, "t1", mt)
        for ref in ("t1", d):
            r = registry.req("GET", f"/v2/{name}/manifests/{ref}", headers={"Accept": mt})
            assert r.status_code == 200
            assert r.content == body
            assert r.headers["Content-Type"] == mt
            assert r.headers["Docker-Content-Digest"] == d
            r = registry.req("HEAD", f"/v2/{name}/manifests/{ref}", headers={"Accept": mt})
            assert r.status_code == 200
            assert int(r.headers["Content-Length"]) == len(body)
            assert r.headers["Docker-Content-Digest"] == d


def test_manifest_missing_blob(registry: Registry) -> None:
    name = repo()
    push_blob(registry, name, b"x")
    m = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha(b"missing"),
                "size": 7,
            },
            "layers": [],
        }
    ).encode()
    r = registry.req(
        "PUT", f"/v2/{name}/manifests/t", data=m, headers={"Content-Type": OCI_MANIFEST}
    )
    assert r.status_code == 400
    assert code(r) == "MANIFEST_BLOB_UNKNOWN"


def test_manifest_invalid(registry: Registry) -> None:
    name = repo()
    r = registry.req(
        "PUT", f"/v2/{name}/manifests/t", data=b"{not json", headers={"Content-Type": OCI_MANIFEST}
    )
    assert r.status_code == 400
    assert code(r) == "MANIFEST_INVALID"


def test_manifest_digest_mismatch(registry: Registry) -> None:
    name = repo()
    _, body = push_image(registry, name, "t")
    r = registry.req(
        "PUT",
        f"/v2/{name}/manifests/{sha(b'other')}",
        data=body,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert r.status_code == 400
    assert code(r) == "DIGEST_INVALID"


def test_manifest_unknown(registry: Registry) -> None:
    name = repo()
    push_image(registry, name, "t")
    r = registry.req("GET", f"/v2/{name}/manifests/nope")
    assert r.status_code == 404
    assert code(r) == "MANIFEST_UNKNOWN"
    r = registry.req("GET", f"/v2/{name}/manifests/{sha(b'nope')}")
    assert r.status_code == 404
    assert code(r) == "MANIFEST_UNKNOWN"


def test_name_unknown_and_invalid(registry: Registry) -> None:
    r = registry.req("GET", f"/v2/{repo()}/tags/list")
    assert r.status_code == 404
    assert code(r) == "NAME_UNKNOWN"
    r = registry.req("GET", "/v2/Bad_Name/tags/list")
    assert r.status_code in (400, 404)
    if registry.kind != "distribution":
        assert code(r) == "NAME_INVALID"


@pytest.mark.parametrize(
    "list_type,child_type", [(OCI_INDEX, OCI_MANIFEST), (DOCKER_LIST, DOCKER_MANIFEST)]
)
def test_index_and_accept_negotiation(registry: Registry, list_type: str, child_type: str) -> None:
    name = repo()
    d1, b1 = push_image(registry, name, "amd", child_type)
    d2, b2 = push_image(registry, name, "arm", child_type)
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": list_type,
            "manifests": [
                {
                    "mediaType": child_type,
                    "digest": d1,
                    "size": len(b1),
                    "platform": {"os": "linux", "architecture": "amd64"},
                },
                {
                    "mediaType": child_type,
                    "digest": d2,
                    "size": len(b2),
                    "platform": {"os": "linux", "architecture": "arm64"},
                },
            ],
        }
    ).encode()
    r = registry.req(
        "PUT", f"/v2/{name}/manifests/multi", data=index, headers={"Content-Type": list_type}
    )
    assert r.status_code == 201, r.text
    r = registry.req(
        "GET", f"/v2/{name}/manifests/multi", headers={"Accept": f"{list_type}, {child_type}"}
    )
    assert r.headers["Content-Type"] == list_type
    assert r.content == index
    # a client that takes no index gets the linux/amd64 manifest (distribution's rule)
    if list_type == DOCKER_LIST:
        r = registry.req("GET", f"/v2/{name}/manifests/multi", headers={"Accept": child_type})
        assert r.status_code == 200
        assert r.headers["Docker-Content-Digest"] == d1
    # an index naming a manifest the repository lacks is refused
    bad = json.loads(index)
    bad["manifests"][0]["digest"] = sha(b"absent")
    r = registry.req(
        "PUT",
        f"/v2/{name}/manifests/bad",
        data=json.dumps(bad),
        headers={"Content-Type": list_type},
    )
    assert r.status_code in (400, 404)
    assert code(r) in ("MANIFEST_UNKNOWN", "MANIFEST_BLOB_UNKNOWN")


def test_tags_pagination(registry: Registry) -> None:
    name = repo()
    d, body = push_image(registry, name, "a")
    for t in ("d", "c", "b"):
        r = registry.req(
            "PUT", f"/v2/{name}/manifests/{t}", data=body, headers={"Content-Type": OCI_MANIFEST}
        )
        assert r.status_code == 201
    got = registry.req("GET", f"/v2/{name}/tags/list").json()
    if registry.kind == "distribution":  # 2.8 sorts only when paginating
        got["tags"].sort()
    assert got == {"name": name, "tags": ["a", "b", "c", "d"]}
    if registry.kind == "distribution":
        return  # 2.8 ignores n/last on tags (added in distribution 3)
    r = registry.req("GET", f"/v2/{name}/tags/list?n=2")
    assert r.json()["tags"] == ["a", "b"]
    assert 'rel="next"' in r.headers["Link"]
    r = registry.req("GET", f"/v2/{name}/tags/list?n=2&last=b")
    assert r.json()["tags"] == ["c", "d"]


def test_catalog_pagination(registry: Registry) -> None:
    names = sorted(f"cat{uuid.uuid4().hex[:6]}/x{i}" for i in range(3))
    for n in names:
        push_image(registry, n, "t")
    r = registry.req("GET", "/v2/_catalog")
    assert r.status_code == 200
    assert set(names) <= set(r.json()["repositories"])
    r = registry.req("GET", "/v2/_catalog?n=1")
    assert len(r.json()["repositories"]) == 1
    assert 'rel="next"' in r.headers["Link"]
    first = r.json()["repositories"][0]
    r = registry.req("GET", f"/v2/_catalog?n=1&last={first}")
    assert r.json()["repositories"][0] > first


def test_delete_manifest_and_blob(registry: Registry) -> None:
    name = repo()
    d, _ = push_image(registry, name, "t")
    r = registry.req("DELETE", f"/v2/{name}/manifests/{d}")
    assert r.status_code == 202
    r = registry.req("GET", f"/v2/{name}/manifests/{d}")
    assert r.status_code == 404
    assert code(r) == "MANIFEST_UNKNOWN"
    assert registry.req("GET", f"/v2/{name}/manifests/t").status_code == 404
    data = os.urandom(64)
    bd = push_blob(registry, name, data)
    assert registry.req("DELETE", f"/v2/{name}/blobs/{bd}").status_code == 202
    r = registry.req("GET", f"/v2/{name}/blobs/{bd}")
    assert r.status_code == 404
    assert code(r) == "BLOB_UNKNOWN"


def test_delete_tag(registry: Registry) -> None:
    if registry.kind == "distribution":
        pytest.skip("distribution 2.8 predates OCI 1.1 tag deletes (answers 400/405)")
    name = repo()
    d, body = push_image(registry, name, "keep")
    registry.req(
        "PUT", f"/v2/{name}/manifests/gone", data=body, headers={"Content-Type": OCI_MANIFEST}
    )
    assert registry.req("DELETE", f"/v2/{name}/manifests/gone").status_code == 202
    assert registry.req("GET", f"/v2/{name}/tags/list").json()["tags"] == ["keep"]
    assert registry.req("GET", f"/v2/{name}/manifests/{d}").status_code == 200


def test_referrers(registry: Registry) -> None:
    if registry.kind == "distribution":
        pytest.skip("distribution 2.8 has no referrers API (OCI 1.1)")
    name = repo()
    subject, body = push_image(registry, name, "t")
    empty = b"{}"
    ed = push_blob(registry, name, empty)
    refs = {}
    for art in ("application/vnd.example.sbom", "application/vnd.example.sig"):
        m = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": art,
                "config": {
                    "mediaType": "application/vnd.oci.empty.v1+json",
                    "digest": ed,
                    "size": 2,
                },
                "layers": [
                    {"mediaType": "application/vnd.oci.empty.v1+json", "digest": ed, "size": 2}
                ],
                "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(body)},
                "annotations": {"k": art},
            }
        ).encode()
        r = registry.req(
            "PUT", f"/v2/{name}/manifests/{sha(m)}", data=m, headers={"Content-Type": OCI_MANIFEST}
        )
        assert r.status_code == 201, r.text
        assert r.headers["OCI-Subject"] == subject
        refs[art] = sha(m)
    r = registry.req("GET", f"/v2/{name}/referrers/{subject}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == OCI_INDEX
    got = {m["artifactType"]: m["digest"] for m in r.json()["manifests"]}
    assert got == refs
    r = registry.req(
        "GET", f"/v2/{name}/referrers/{subject}?artifactType=application/vnd.example.sig"
    )
    assert [m["digest"] for m in r.json()["manifests"]] == [refs["application/vnd.example.sig"]]
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    # a subject with no referrers: an empty index, not a 404
    r = registry.req("GET", f"/v2/{name}/referrers/{sha(b'lonely')}")
    assert r.status_code == 200 and r.json()["manifests"] == []


def test_client_chunked_upload(registry: Registry, tmp_path) -> None:  # noqa: ANN001
    """The daemon's push client uploading one blob in several Content-Range'd PATCHes."""
    import asyncio

    from dockyard.registry.client.metadata import DistributionMetadata
    from dockyard.registry.client.push import Pusher
    from dockyard.registry.client.transport import Scope, Transport

    data = os.urandom((5 << 20) + 123)
    path = tmp_path / "blob"
    path.write_bytes(data)
    name = repo()
    messages: list[dict] = []

    async def go() -> None:
        async with Transport(registry.addr) as t:
            p = Pusher(
                None,
                DistributionMetadata(str(tmp_path / "m.json")),
                messages.append,
                chunk_size=1 << 20,
            )
            await p._upload_file(
                t, Scope(name, ("pull", "push")), name, str(path), sha(data), len(data), "x"
            )

    asyncio.run(go())
    assert registry.req("GET", f"/v2/{name}/blobs/{sha(data)}").content == data


def test_concurrent_patches_to_one_upload(registry: Registry) -> None:
    """Two clients PATCHing one upload at once: the server stays up, takes one
    and refuses or queues the other; the upload stays consistent."""
    import threading

    name = repo()
    loc = registry.req("POST", f"/v2/{name}/blobs/uploads/").headers["Location"]
    data = os.urandom(1 << 20)
    results: list[int] = []

    def patch() -> None:
        import requests

        r = requests.patch(
            loc if loc.startswith("http") else registry.url + loc,
            data=data,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"0-{len(data) - 1}",
            },
            timeout=30,
        )
        results.append(r.status_code)

    threads = [threading.Thread(target=patch) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert registry.req("GET", "/v2/").status_code == 200
    if registry.kind != "distribution":
        assert sorted(results) == [202, 416]
        r = registry.req("GET", loc)
        assert r.headers["Range"] == f"0-{len(data) - 1}"


def test_manifest_too_large(registry: Registry) -> None:
    if registry.kind == "distribution":
        pytest.skip("distribution 2.8 accepts any size")
    r = registry.req(
        "PUT", f"/v2/{repo()}/manifests/t", data=b"{" + b" " * (5 << 20) + b"}",
        headers={"Content-Type": OCI_MANIFEST},
    )  # fmt: skip
    assert r.status_code == 400 and code(r) == "MANIFEST_INVALID"


def test_malformed_content_range(registry: Registry) -> None:
    loc = registry.req("POST", f"/v2/{repo()}/blobs/uploads/").headers["Location"]
    r = registry.req(
        "PATCH",
        loc,
        data=b"abc",
        headers={"Content-Range": "bytes=x-y", "Content-Type": "application/octet-stream"},
    )
    if registry.kind == "distribution":
        assert r.status_code == 202  # 2.8 does not look at Content-Range at all
        return
    assert r.status_code == 400 and code(r) == "BLOB_UPLOAD_INVALID"
