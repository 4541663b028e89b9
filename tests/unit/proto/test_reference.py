from __future__ import annotations

import pytest

from dockyard.proto.reference import (
    InvalidReference,
    is_full_id,
    normalize_host,
    parse_docker_ref,
    parse_normalized,
    parse_repository_tag,
    short_id_prefix,
    truncate_id,
)

HEX = "a" * 64


@pytest.mark.parametrize(
    ("text", "full", "familiar"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("user/app:v1", "docker.io/user/app:v1", "user/app:v1"),
        ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
        (
            "localhost:5000/foo/bar",
            "localhost:5000/foo/bar:latest",
            "localhost:5000/foo/bar:latest",
        ),
        ("Example.com/x", "Example.com/x:latest", "Example.com/x:latest"),
        ("[::1]:5000/x:t", "[::1]:5000/x:t", "[::1]:5000/x:t"),
        (
            f"busybox@sha256:{HEX}",
            f"docker.io/library/busybox@sha256:{HEX}",
            f"busybox@sha256:{HEX}",
        ),
        (f"a/b:t@sha256:{HEX}", f"docker.io/a/b:t@sha256:{HEX}", f"a/b:t@sha256:{HEX}"),
        ("a__b/c-d/e---f", "docker.io/a__b/c-d/e---f:latest", "a__b/c-d/e---f:latest"),
    ],
)
def test_normalise(text: str, full: str, familiar: str) -> None:
    ref = parse_docker_ref(text)
    assert str(ref) == full
    assert ref.familiar() == familiar


def test_no_tag_added_by_parse_normalized() -> None:
    ref = parse_normalized("busybox")
    assert ref.tag is None and ref.digest is None
    assert ref.familiar() == "busybox"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Busybox",
            "invalid reference format: repository name (library/Busybox) must be lowercase",
        ),
        ("foo/Bar:tag", "invalid reference format: repository name (foo/Bar) must be lowercase"),
        ("busybox:", "invalid reference format"),
        ("-busybox", "invalid reference format"),
        ("busy box", "invalid reference format"),
        ("a//b", "invalid reference format"),
        ("a_b.c/x", "invalid reference format"),
        ("a:b:c", "invalid reference format"),
        (HEX, f"invalid repository name ({HEX}), cannot specify 64-byte hexadecimal strings"),
        ("busybox@sha256:abc", "invalid reference format"),
        (
            "x/" + "a" * 256,
            "invalid reference format: repository name must not be more than 255 characters",
        ),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidReference) as e:
        parse_normalized(text)
    assert e.value.message == message
    assert e.value.status == 400


def test_repository_tag_pair() -> None:
    assert str(parse_repository_tag("busybox", "x")) == "docker.io/library/busybox:x"
    assert str(parse_repository_tag("busybox:y", "")) == "docker.io/library/busybox:y"
    assert str(parse_repository_tag("localhost:5000/a", "")) == "localhost:5000/a:latest"
    with pytest.raises(InvalidReference):
        parse_repository_tag("busybox", "bad tag")
    with pytest.raises(InvalidReference):
        parse_repository_tag(f"busybox@sha256:{HEX}", "")


def test_ids() -> None:
    assert is_full_id(HEX) and is_full_id("sha256:" + HEX)
    assert not is_full_id("abc")
    assert short_id_prefix("sha256:abc1") == "abc1"
    assert short_id_prefix("abc1") == "abc1"
    assert short_id_prefix("busybox") is None
    assert truncate_id("sha256:" + HEX) == "a" * 12


def test_normalize_host() -> None:
    assert normalize_host("https://index.docker.io/v1/") == "docker.io"
    assert normalize_host("registry-1.docker.io") == "docker.io"
    assert normalize_host("") == "docker.io"
    assert normalize_host("http://localhost:5000/") == "localhost:5000"
    assert normalize_host(" [::1]:5000/v2/ ") == "[::1]:5000"
