"""Requests as older API versions send them, to dockyardd and to a peer dockerd
(20.10): each daemon must read them the same way (what it records, what it
refuses and with which message)."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

import pytest

from tests.conftest import Daemon
from tests.integration.api.engine import Answer, request

pytestmark = pytest.mark.integration


@pytest.fixture()
def hosts(daemon: Daemon, peer: str) -> dict[str, str]:
    return {"ours": daemon.host, "peer": peer}


def _create(host: str, version: str, body: dict) -> str:
    name = "apiver-req-" + uuid.uuid4().hex[:8]
    r = request(host, "POST", f"/v{version}/containers/create?name={name}", body)
    assert r.status == 201, (host, r.body)
    return r.json()["Id"]


def _inspect(host: str, cid: str) -> dict:
    r = request(host, "GET", f"/containers/{cid}/json")
    assert r.status == 200, r.body
    return r.json()


def _each(hosts: dict[str, str], version: str, body: dict) -> dict[str, dict]:
    """Creates the same container on both daemons; their inspect answers, removed after."""
    out = {}
    for side, host in hosts.items():
        cid = _create(host, version, body)
        try:
            out[side] = _inspect(host, cid)
        finally:
            request(host, "DELETE", f"/containers/{cid}?force=1")
    return out


def test_host_config_at_start_is_refused_as_dockerd_does(hosts: dict[str, str]) -> None:
    answers: dict[str, Answer] = {}
    for side, host in hosts.items():
        cid = _create(host, "1.24", {"Image": "busybox", "HostConfig": {"NetworkMode": "none"}})
        try:
            body = {"HostConfig": {"Binds": ["/tmp:/x"]}}
            answers[side] = request(host, "POST", f"/v1.24/containers/{cid}/start", body)
            assert _inspect(host, cid)["State"]["Status"] == "created"
            # an empty object is no body: the start goes ahead
            empty = request(host, "POST", f"/v1.24/containers/{cid}/start", raw=b"{}",
                            headers={"Content-Type": "application/json"})  # fmt: skip
            assert empty.status == 204, (side, empty.body)
        finally:
            request(host, "DELETE", f"/containers/{cid}?force=1")
    ours, peer = answers["ours"], answers["peer"]
    assert (ours.status, ours.json()) == (peer.status, peer.json())
    assert ours.status == 400


def test_top_level_host_config_fields_at_create(hosts: dict[str, str]) -> None:
    """docker-py's old create_container(dns=..., volume_driver=...) puts them beside Config."""
    body = {
        "Image": "busybox",
        "Cmd": ["true"],
        "Dns": ["192.0.2.1"],
        "VolumeDriver": "local",
        "NetworkMode": "none",
        "Memory": 64 << 20,
    }
    got = _each(hosts, "1.30", body)
    for side, doc in got.items():
        hc = doc["HostConfig"]
        assert (hc["Dns"], hc["VolumeDriver"], hc["NetworkMode"], hc["Memory"]) == (
            ["192.0.2.1"], "local", "none", 64 << 20,
        ), side  # fmt: skip
        assert "Dns" not in doc["Config"], side


def test_inner_host_config_wins_over_the_top_level(hosts: dict[str, str]) -> None:
    body = {
        "Image": "busybox",
        "Dns": ["192.0.2.1"],
        "Memory": 64 << 20,
        "HostConfig": {"Dns": ["192.0.2.2"], "NetworkMode": "none"},
    }
    got = _each(hosts, "1.41", body)
    for side, doc in got.items():
        # the inner Dns wins; an outer Memory fills the inner's zero (moby's wrapper)
        assert doc["HostConfig"]["Dns"] == ["192.0.2.2"], side
        assert doc["HostConfig"]["Memory"] == 64 << 20, side


@pytest.mark.parametrize(("version", "auto_remove"), [("1.24", False), ("1.25", True)])
def test_auto_remove_is_the_client_s_job_at_1_24(
    hosts: dict[str, str], version: str, auto_remove: bool
) -> None:
    body = {"Image": "busybox", "HostConfig": {"AutoRemove": True, "NetworkMode": "none"}}
    got = _each(hosts, version, body)
    assert {side: doc["HostConfig"]["AutoRemove"] for side, doc in got.items()} == {
        "ours": auto_remove,
        "peer": auto_remove,
    }


@pytest.mark.parametrize(("version", "mode"), [("1.30", "shareable"), ("1.41", "private")])
def test_default_ipc_mode_by_version(hosts: dict[str, str], version: str, mode: str) -> None:
    got = _each(hosts, version, {"Image": "busybox", "HostConfig": {"NetworkMode": "none"}})
    assert {side: doc["HostConfig"]["IpcMode"] for side, doc in got.items()} == {
        "ours": mode,
        "peer": mode,
    }


@pytest.mark.parametrize(
    ("version", "pattern", "listed"),
    [("1.30", "busy*", True), ("1.30", "nomatch*", False), ("1.41", "nomatch*", True)],
)
def test_legacy_filter_parameter_of_the_image_list(
    hosts: dict[str, str], version: str, pattern: str, listed: bool
) -> None:
    """`filter=` (a reference glob) is read until 1.41, then ignored."""
    for side, host in hosts.items():
        r = request(host, "GET", f"/v{version}/images/json?filter={quote(pattern)}")
        assert r.status == 200, (side, r.body)
        tags = [t for img in r.json() for t in img.get("RepoTags") or []]
        assert ("busybox:latest" in tags) == listed, (side, tags)


def test_filter_and_filters_together(hosts: dict[str, str]) -> None:
    filters = quote(json.dumps({"dangling": ["false"]}))
    for side, host in hosts.items():
        r = request(host, "GET", f"/v1.30/images/json?filter=nomatch*&filters={filters}")
        assert r.status == 200 and r.json() == [], (side, r.body)


@pytest.mark.parametrize("value", ["TRUE", "tRue", "on", "2", " 1 ", "none", "No", "FALSE", ""])
def test_boolean_query_values_are_read_as_dockerd_reads_them(
    hosts: dict[str, str], value: str
) -> None:
    """dockerd's BoolValue: trimmed and lowercased, "", 0, no, false and none are false,
    anything else true (clients send True, 1, yes...)."""
    label = "apiver-bool=" + uuid.uuid4().hex[:8]
    listed = {}
    for side, host in hosts.items():
        body = {"Image": "busybox", "Labels": dict([label.split("=")]),
                "HostConfig": {"NetworkMode": "none"}}  # fmt: skip
        cid = _create(host, "1.41", body)
        try:
            filters = quote(json.dumps({"label": [label]}))
            r = request(host, "GET", f"/v1.41/containers/json?all={quote(value)}&filters={filters}")
            listed[side] = (r.status, len(r.json()) if r.status == 200 else r.body)
        finally:
            request(host, "DELETE", f"/containers/{cid}?force=1")
    assert listed["ours"] == listed["peer"]


def test_one_network_at_create_before_1_44(hosts: dict[str, str]) -> None:
    tag = uuid.uuid4().hex[:8]
    nets = [f"apiver-n1-{tag}", f"apiver-n2-{tag}"]
    answers = {}
    for side, host in hosts.items():
        for n in nets:
            assert request(host, "POST", "/networks/create", {"Name": n}).status == 201
        try:
            body = {
                "Image": "busybox",
                "NetworkingConfig": {"EndpointsConfig": {n: {} for n in nets}},
            }
            r = request(host, "POST", "/v1.41/containers/create", body)
            answers[side] = (r.status, r.json()["message"].split(":")[0])
            if r.status == 201:
                request(host, "DELETE", f"/containers/{r.json()['Id']}?force=1")
        finally:
            for n in nets:
                request(host, "DELETE", f"/networks/{n}")
    assert answers["ours"] == answers["peer"] == (
        400, "Container cannot be connected to network endpoints",
    )  # fmt: skip


def test_parameters_newer_than_the_client_are_ignored(hosts: dict[str, str]) -> None:
    """stop?signal= came with 1.42: a 1.41 client's (here a bogus one) is not read."""
    for side, host in hosts.items():
        body = {"Image": "busybox", "Cmd": ["sleep", "300"], "HostConfig": {"NetworkMode": "none"}}
        cid = _create(host, "1.41", body)
        try:
            assert request(host, "POST", f"/containers/{cid}/start").status == 204, side
            r = request(host, "POST", f"/v1.41/containers/{cid}/stop?signal=BOGUS&t=1")
            assert r.status == 204, (side, r.status, r.body)
            assert not _inspect(host, cid)["State"]["Running"], side
        finally:
            request(host, "DELETE", f"/containers/{cid}?force=1")


def test_volume_prune_before_1_42_takes_named_volumes_too(hosts: dict[str, str]) -> None:
    """From 1.42 prune takes only anonymous volumes unless all=true; an older client
    meant every unused one. A label keeps the prune to this test's volume."""
    for side, host in hosts.items():
        tag = uuid.uuid4().hex[:8]
        name = "apiver-prune-" + tag
        body = {"Name": name, "Labels": {"apiver-prune": tag}}
        assert request(host, "POST", "/volumes/create", body).status == 201
        try:
            filters = quote(json.dumps({"label": [f"apiver-prune={tag}"]}))
            if side == "ours":  # the peer (20.10) has no 1.42
                r = request(host, "POST", f"/v1.42/volumes/prune?filters={filters}")
                assert r.status == 200 and not r.json()["VolumesDeleted"], (side, r.body)
            r = request(host, "POST", f"/v1.41/volumes/prune?filters={filters}")
            assert r.status == 200, (side, r.body)
            assert r.json()["VolumesDeleted"] == [name], side
        finally:
            request(host, "DELETE", f"/volumes/{name}")
