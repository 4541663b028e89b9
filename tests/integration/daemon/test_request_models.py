"""Every Engine API request body is decoded into its typed model before anything is
stored: a wrong-typed value in ANY field of the create, network, volume and exec
bodies is a 400 in Go's words and leaves nothing behind (issue 11 items 2 and 5)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.api.models import gojson
from dockyard.api.models.container import ContainerCreate, UpdateConfig
from dockyard.api.models.exec import ExecConfig, ExecStartCheck
from dockyard.api.models.network import NetworkConnect, NetworkCreateRequest, NetworkDisconnect
from dockyard.api.models.volume import VolumeCreateBody
from tests.integration.daemon.rawapi import error_message, request

V = "/v1.45"


def _wrong(node: Any) -> list[Any]:
    """Values of the wrong JSON type for a field of this Go type: the field itself,
    then (for containers) an element of the wrong type."""
    if isinstance(node, gojson._Bool):
        return ["false"]
    if isinstance(node, gojson._Str):
        return [1]
    if isinstance(node, gojson._Integer):
        return ["1", 1.5]
    if isinstance(node, gojson._Float):
        return ["1"]
    if isinstance(node, gojson._StrSlice):
        return [1, [1, {}]]
    if isinstance(node, gojson._Empty):
        return [1]
    if isinstance(node, gojson._List):
        return ["x", *[[w] for w in _wrong(node.elem)[:1]]]
    if isinstance(node, gojson._Map):
        return [[], *[{"k": w} for w in _wrong(node.value)[:1]]]
    if isinstance(node, gojson._Struct):
        return ["x"]
    raise AssertionError(node)


def _nest(node: Any, inner: Any) -> Any:
    """Wrap a struct's body so that it sits where `node` (a struct, or a list or map of
    them) expects it."""
    if isinstance(node, gojson._List):
        return [_nest(node.elem, inner)]
    if isinstance(node, gojson._Map):
        return {"k": _nest(node.value, inner)}
    return inner


def _structs(node: Any) -> gojson._Struct | None:
    while isinstance(node, gojson._List | gojson._Map):
        node = node.elem if isinstance(node, gojson._List) else node.value
    return node if isinstance(node, gojson._Struct) else None


def wrong_bodies(model: type[gojson.Model], base: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(field path, body) for every field of `model`, at every depth, each with a
    wrong-typed value and otherwise the valid `base`."""

    def walk(struct: gojson._Struct, prefix: str) -> Iterator[tuple[str, Any]]:
        for name, node in struct.members().items():
            for w in _wrong(node):
                yield f"{prefix}{name}", w
            inner = _structs(node)
            if inner is not None:
                yield from walk(inner, f"{prefix}{name}.")

    top = gojson._compile(model)

    def build(struct: gojson._Struct, path: str, value: Any) -> dict[str, Any]:
        head, _, rest = path.partition(".")
        if not rest:
            return {head: value}
        node = struct.members()[head]
        inner = _structs(node)
        assert inner is not None
        return {head: _nest(node, build(inner, rest, value))}

    for path, w in walk(top, ""):
        body = dict(base)
        body.update(build(top, path, w))
        yield path, body


def _ids(daemon: Any, what: str) -> set[str]:
    status, _, body = request(daemon.sock, "GET", f"{V}/{what}")
    assert status == 200, body
    doc = json.loads(body)
    if what.startswith("volumes"):
        doc = doc["Volumes"] or []
    return {d.get("Id") or d.get("Name") for d in doc}


def _refused_all(daemon: Any, method: str, path: str, bodies: list[tuple[str, Any]]) -> int:
    failures = []
    for field, body in bodies:
        status, ctype, raw = request(daemon.sock, method, path, body)
        if status != 400:
            failures.append((field, body, status, raw[:200]))
            continue
        msg = error_message(status, ctype, raw)
        if not msg.startswith("json: cannot unmarshal ") or field.rsplit(".", 1)[-1] not in msg:
            failures.append((field, body, msg))
    assert not failures, failures[:10]
    return len(bodies)


def test_every_create_field_wrong_typed_is_400_and_stores_nothing(daemon: Any) -> None:
    before = _ids(daemon, "containers/json?all=1")
    bodies = list(wrong_bodies(ContainerCreate, {"Image": "busybox", "Cmd": ["true"]}))
    assert len(bodies) > 250  # every field of Config, HostConfig, NetworkingConfig and below
    _refused_all(daemon, "POST", f"{V}/containers/create?name=models-wrong", bodies)
    assert _ids(daemon, "containers/json?all=1") == before
    r = daemon.docker("ps", "-a")
    assert r.returncode == 0, r.stderr


def test_the_reported_bodies(daemon: Any) -> None:
    """The issue's cases, with dockerd's exact words."""
    before = _ids(daemon, "containers/json?all=1")
    cases = {
        '{"Image":"busybox","HostConfig":{"Privileged":"false"}}': "json: cannot unmarshal "
        "string into Go struct field HostConfig.HostConfig.Privileged of type bool",
        '{"Image":"busybox","HostConfig":{"Privileged":"0"}}': "json: cannot unmarshal "
        "string into Go struct field HostConfig.HostConfig.Privileged of type bool",
        '{"Image":"busybox","Labels":{"k":[1]}}': "json: cannot unmarshal array into Go "
        "struct field ContainerConfigWrapper.Labels of type string",
        '{"Image":"busybox","Cmd":[1,{}]}': "json: cannot unmarshal array into Go struct "
        "field ContainerConfigWrapper.Cmd of type string",
        '{"image":"busybox","hostconfig":{"privileged":"x"}}': "json: cannot unmarshal "
        "string into Go struct field HostConfig.HostConfig.Privileged of type bool",
    }
    for body, want in cases.items():
        assert error_message(*request(daemon.sock, "POST", f"{V}/containers/create", body)) == want
    assert _ids(daemon, "containers/json?all=1") == before
    status, _, raw = request(daemon.sock, "GET", f"{V}/containers/json?all=1")
    assert status == 200, raw


def test_field_names_match_case_insensitively(daemon: Any) -> None:
    body = {
        "image": "busybox",
        "CMD": ["true"],
        "labels": {"models": "ci"},
        "hostConfig": {"memory": 64 << 20, "restartpolicy": {"name": "no"}},
    }
    status, _, raw = request(daemon.sock, "POST", f"{V}/containers/create?name=models-ci", body)
    assert status == 201, raw
    try:
        doc = json.loads(request(daemon.sock, "GET", f"{V}/containers/models-ci/json")[2])
        assert doc["Config"]["Labels"] == {"models": "ci"}
        assert doc["Config"]["Cmd"] == ["true"]
        assert doc["HostConfig"]["Memory"] == 64 << 20
    finally:
        request(daemon.sock, "DELETE", f"{V}/containers/models-ci?force=1")


@contextlib.contextmanager
def _container(daemon: Any, name: str, body: dict[str, Any]) -> Iterator[None]:
    status, _, raw = request(daemon.sock, "POST", f"{V}/containers/create?name={name}", body)
    assert status == 201, raw
    try:
        yield
    finally:
        request(daemon.sock, "DELETE", f"{V}/containers/{name}?force=1")


def test_update_wrong_types(daemon: Any) -> None:
    with _container(daemon, "models-upd", {"Image": "busybox"}):
        url = f"{V}/containers/models-upd/json"
        before = json.loads(request(daemon.sock, "GET", url)[2])["HostConfig"]
        _refused_all(
            daemon,
            "POST",
            f"{V}/containers/models-upd/update",
            list(wrong_bodies(UpdateConfig, {})),
        )
        assert json.loads(request(daemon.sock, "GET", url)[2])["HostConfig"] == before


def test_network_bodies(daemon: Any) -> None:
    before = _ids(daemon, "networks")
    _refused_all(
        daemon,
        "POST",
        f"{V}/networks/create",
        list(wrong_bodies(NetworkCreateRequest, {"Name": "models-net"})),
    )
    assert _ids(daemon, "networks") == before
    with _container(daemon, "models-nc", {"Image": "busybox"}):
        for model, path in ((NetworkConnect, "connect"), (NetworkDisconnect, "disconnect")):
            _refused_all(
                daemon,
                "POST",
                f"{V}/networks/none/{path}",
                list(wrong_bodies(model, {"Container": "models-nc"})),
            )
        doc = json.loads(request(daemon.sock, "GET", f"{V}/containers/models-nc/json")[2])
        assert list(doc["NetworkSettings"]["Networks"]) == ["bridge"]


def test_volume_bodies(daemon: Any) -> None:
    before = _ids(daemon, "volumes")
    _refused_all(
        daemon,
        "POST",
        f"{V}/volumes/create",
        list(wrong_bodies(VolumeCreateBody, {"Name": "models-vol"})),
    )
    assert _ids(daemon, "volumes") == before


def test_exec_bodies(daemon: Any) -> None:
    with _container(daemon, "models-ex", {"Image": "busybox", "Cmd": ["sleep", "60"]}):
        assert request(daemon.sock, "POST", f"{V}/containers/models-ex/start")[0] == 204
        _refused_all(
            daemon,
            "POST",
            f"{V}/containers/models-ex/exec",
            list(wrong_bodies(ExecConfig, {"Cmd": ["true"]})),
        )
        doc = json.loads(request(daemon.sock, "GET", f"{V}/containers/models-ex/json")[2])
        assert not doc["ExecIDs"]
        status, _, raw = request(
            daemon.sock, "POST", f"{V}/containers/models-ex/exec", {"cmd": ["true"]}
        )
        assert status == 201, raw
        eid = json.loads(raw)["Id"]
        _refused_all(
            daemon, "POST", f"{V}/exec/{eid}/start", list(wrong_bodies(ExecStartCheck, {}))
        )
        doc = json.loads(request(daemon.sock, "GET", f"{V}/exec/{eid}/json")[2])
        assert doc["Running"] is False and doc["Pid"] == 0
        # exec create reads `detachKeys` as Go does (case-insensitively)
        bad = request(
            daemon.sock,
            "POST",
            f"{V}/containers/models-ex/exec",
            {"Cmd": ["true"], "detachKeys": "ctrl-"},
        )
        assert bad[0] == 400, bad


@pytest.mark.parametrize(
    "what",
    ["buildargs", "labels", "cachefrom"],
)
def test_build_query_parameters(daemon: Any, what: str) -> None:
    value = {"buildargs": '{"a":1}', "labels": '{"a":[1]}', "cachefrom": '{"a":"b"}'}[what]
    from urllib.parse import quote

    status, ctype, raw = request(daemon.sock, "POST", f"{V}/build?{what}={quote(value)}", b"")
    msg = error_message(status, ctype, raw)
    assert status == 400 and "json: cannot unmarshal" in msg, msg
