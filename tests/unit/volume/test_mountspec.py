"""Mount specs: -v, --mount, --tmpfs and image VOLUMEs parsed as Docker does."""

from __future__ import annotations

import pytest

from dockyard.api.errors import InvalidParameter
from dockyard.volume import mountspec


def test_bind_and_volume_specs() -> None:
    b = mountspec.parse_bind("/srv/data:/data:ro")
    assert (b.type, b.source, b.destination, b.rw, b.create_source) == (
        "bind", "/srv/data", "/data", False, True)  # fmt: skip
    v = mountspec.parse_bind("myvol:/data")
    assert (v.type, v.source, v.rw) == ("volume", "myvol", True)
    a = mountspec.parse_bind("/anon")
    assert a.type == "volume" and a.anonymous and not a.source
    assert mountspec.parse_bind("/a:/b:rshared,z").propagation == "rshared"
    with pytest.raises(InvalidParameter, match="invalid mode"):
        mountspec.parse_bind("/a:/b:bogus")
    with pytest.raises(InvalidParameter, match="invalid characters"):
        mountspec.parse_bind("bad name:/x")
    with pytest.raises(InvalidParameter):
        mountspec.parse_bind("vol:relative")


def test_mount_api_objects() -> None:
    m = mountspec.parse_mount({"Type": "bind", "Source": "/x", "Target": "/y", "ReadOnly": True})
    assert (m.type, m.create_source, m.rw) == ("bind", False, False)
    t = mountspec.parse_mount(
        {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 0o700}}
    )
    assert t.tmpfs_options == ["size=1048576", "mode=700"]
    assert "size=1048576" in mountspec.oci_options(t)
    v = mountspec.parse_mount({"Type": "volume", "Target": "/v", "VolumeOptions": {"NoCopy": True}})
    assert v.anonymous and v.nocopy
    with pytest.raises(InvalidParameter):
        mountspec.parse_mount({"Type": "tmpfs", "Source": "x", "Target": "/t"})


def test_parse_all_precedence() -> None:
    pts = mountspec.parse_all(
        {"Volumes": {"/data": {}, "/logs": {}}},
        {"Binds": ["named:/data"], "Tmpfs": {"/run": "size=64k"}},
    )
    by = {p.destination: p for p in pts}
    assert by["/data"].source == "named" and by["/logs"].anonymous
    assert by["/run"].type == "tmpfs" and by["/run"].tmpfs_options == ["size=64k"]
    with pytest.raises(InvalidParameter, match="Duplicate mount point"):
        mountspec.parse_all({}, {"Binds": ["aa:/x", "bb:/x"]})
    ro = mountspec.parse_bind("vv:/x:ro")
    assert mountspec.oci_options(ro) == ["rbind", "rprivate", "ro"]
