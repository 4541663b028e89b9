"""The distribution spec's pure parts: names, digests, errors, ranges, links,
manifest validation, challenges, pagination."""

from __future__ import annotations

import json

import pytest

from dockyard.registry import proto
from dockyard.registry.client import auth, progress
from dockyard.registry.client.transport import is_loopback
from dockyard.registry.proto import RegistryError

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    "name,ok",
    [
        ("a", True),
        ("a/b-c/d_e.f", True),
        ("A", False),
        ("a//b", False),
        ("-a", False),
        ("a" * 256, False),
    ],
)
def test_names(name: str, ok: bool) -> None:
    assert proto.valid_name(name) is ok


def test_digests() -> None:
    assert proto.check_digest(D) == D
    for bad in ("sha256:abc", "sha256:" + "A" * 64, "nothing"):
        with pytest.raises(RegistryError) as e:
            proto.check_digest(bad)
        assert e.value.code == "DIGEST_INVALID" and e.value.status == 400
    with pytest.raises(RegistryError, match="unsupported digest algorithm"):
        proto.check_digest("sha512:" + "a" * 128)


def test_error_body_and_statuses() -> None:
    e = RegistryError("BLOB_UNKNOWN", detail={"digest": D})
    assert e.status == 404
    assert json.loads(e.body()) == {
        "errors": [
            {"code": "BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": {"digest": D}}
        ]
    }
    statuses = {
        c: proto.ERRORS[c][0]
        for c in (
            "UNAUTHORIZED",
            "DENIED",
            "UNSUPPORTED",
            "TOOMANYREQUESTS",
            "NAME_UNKNOWN",
            "SIZE_INVALID",
        )
    }
    assert statuses == {
        "UNAUTHORIZED": 401,
        "DENIED": 403,
        "UNSUPPORTED": 405,
        "TOOMANYREQUESTS": 429,
        "NAME_UNKNOWN": 404,
        "SIZE_INVALID": 400,
    }
    assert proto.parse_error_body(404, e.body()) == ("BLOB_UNKNOWN", "blob unknown to registry")
    assert proto.parse_error_body(502, b"<html>bad gateway</html>") == (
        "",
        "<html>bad gateway</html>",
    )


def test_ranges() -> None:
    assert proto.parse_range("bytes=0-9", 100) == (0, 9)
    assert proto.parse_range("bytes=90-", 100) == (90, 99)
    assert proto.parse_range("bytes=-10", 100) == (90, 99)
    assert proto.parse_range("bytes=95-200", 100) == (95, 99)
    assert proto.parse_range("bytes=100-", 100) is None
    assert proto.parse_range("lines=1-2", 100) is None
    assert proto.parse_content_range("0-9") == (0, 9)
    assert proto.parse_content_range("bytes 10-19/*") == (10, 19)
    with pytest.raises(RegistryError) as e:
        proto.parse_content_range("9-0")
    assert e.value.status == 416
    with pytest.raises(RegistryError) as e:
        proto.parse_content_range("x-y")
    assert e.value.code == "BLOB_UPLOAD_INVALID" and e.value.status == 400


def test_pagination_and_link() -> None:
    assert proto.paginate(["c", "a", "b"], None, "") == (["a", "b", "c"], False)
    assert proto.paginate(["c", "a", "b"], 2, "") == (["a", "b"], True)
    assert proto.paginate(["c", "a", "b"], 2, "a") == (["b", "c"], False)
    link = proto.next_link("/v2/x/tags/list", 2, "b")
    assert link == '</v2/x/tags/list?n=2&last=b>; rel="next"'
    assert proto.parse_link_next(link) == "/v2/x/tags/list?n=2&last=b"


def _m(**kw: object) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": proto.OCI_MANIFEST,
        "config": {"mediaType": proto.OCI_CONFIG, "digest": D, "size": 2},
        "layers": [],
    }
    doc.update(kw)
    return json.dumps(doc).encode()


def test_parse_manifest() -> None:
    p = proto.parse_manifest(_m(), proto.OCI_MANIFEST)
    assert p.references == [D] and not p.is_index and p.artifact_type == proto.OCI_CONFIG
    p = proto.parse_manifest(
        _m(subject={"digest": D, "size": 1, "mediaType": proto.OCI_MANIFEST}, artifactType="x/y"),
        "",
    )
    assert p.subject == D and p.artifact_type == "x/y"
    idx = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [{"digest": D, "size": 1, "mediaType": proto.OCI_MANIFEST}],
        }
    ).encode()
    p = proto.parse_manifest(idx, proto.OCI_INDEX)
    assert p.is_index and p.references == [D]
    for bad, ct in (
        (b"[]", proto.OCI_MANIFEST),
        (b"{", proto.OCI_MANIFEST),
        (_m(schemaVersion=1), proto.OCI_MANIFEST),
        (_m(), proto.DOCKER_MANIFEST),
        (json.dumps({"schemaVersion": 2}).encode(), ""),
    ):
        with pytest.raises(RegistryError) as e:
            proto.parse_manifest(bad, ct)
        assert e.value.code == "MANIFEST_INVALID"


def test_www_authenticate() -> None:
    scheme, params = proto.parse_www_authenticate(
        'Bearer realm="http://127.0.0.1:5000/auth/token",service="reg",scope="repository:a/b:pull,push"'
    )
    assert scheme == "bearer"
    assert params == {
        "realm": "http://127.0.0.1:5000/auth/token",
        "service": "reg",
        "scope": "repository:a/b:pull,push",
    }


def test_registry_auth_header_and_hosts() -> None:
    import base64

    raw = (
        base64.urlsafe_b64encode(
            json.dumps({"username": "u", "password": "p", "serveraddress": "h:5000"}).encode()
        )
        .decode()
        .rstrip("=")
    )
    c = auth.decode_header(raw)
    assert (c.username, c.password, c.server) == ("u", "p", "h:5000")
    assert auth.decode_header(None).empty
    assert (
        is_loopback("localhost:5000") and is_loopback("127.0.0.2:80") and is_loopback("[::1]:5000")
    )
    assert not is_loopback("example.com:5000") and not is_loopback("10.0.0.1")


def test_progress_messages() -> None:
    m = progress.progress("Downloading", "abc", 50, 100)
    assert m["progressDetail"] == {"current": 50, "total": 100}
    assert m["progress"].startswith("[" + "=" * 24 + ">")
    assert progress.error("boom") == {"errorDetail": {"message": "boom"}, "error": "boom"}
    assert progress.short(D) == "a" * 12


def test_token_buckets() -> None:
    from dockyard.registry.server.ratelimit import TokenBuckets

    now = [0.0]
    tb = TokenBuckets(rate=2, burst=3, clock=lambda: now[0])
    assert [tb.take("a") for _ in range(3)] == [0, 0, 0]
    wait = tb.take("a")
    assert wait == pytest.approx(0.5)
    assert TokenBuckets.retry_after(wait) == "1"
    assert tb.take("b") == 0  # per client
    now[0] += 0.5
    assert tb.take("a") == 0
    assert tb.take("a") > 0
