"""The version table: answers shaped per API version, older requests read as the newest."""

from __future__ import annotations

import json

import pytest

from dockyard.api import versions
from dockyard.api.errors import InvalidParameter


def _image() -> dict:
    return {"Id": "sha256:x", "Size": 5, "Config": {"Cmd": ["sh"]}, "RepoTags": ["a:b"]}


def test_every_rule_names_a_routed_operation() -> None:
    routed = set(versions.ROUTES.values())
    assert versions.OPERATIONS <= routed, versions.OPERATIONS - routed


@pytest.mark.parametrize("route", ["/images/{name:.+}/json", "/images/{name}/json"])
def test_operation_of_a_route(route: str) -> None:
    assert versions.operation("GET", route) == "ImageInspect"
    assert versions.operation("DELETE", route) is None


def test_image_inspect_before_1_44_has_container_config_and_virtual_size() -> None:
    out = versions.shape_answer("ImageInspect", "1.41", _image())
    assert out["Container"] == ""
    assert out["ContainerConfig"]["Cmd"] is None and "Volumes" in out["ContainerConfig"]
    assert out["VirtualSize"] == 5
    assert out["Config"]["Volumes"] is None


def test_image_inspect_keeps_the_image_s_own_container_config() -> None:
    img = {**_image(), "Container": "abc", "ContainerConfig": {"Cmd": ["/bin/sh", "-c", "x"]}}
    out = versions.shape_answer("ImageInspect", "1.30", img)
    assert out["Container"] == "abc" and out["ContainerConfig"] == {"Cmd": ["/bin/sh", "-c", "x"]}


@pytest.mark.parametrize("version", ["1.44", "1.45"])
def test_image_inspect_drops_virtual_size_keeps_container_config(version: str) -> None:
    out = versions.shape_answer("ImageInspect", version, {**_image(), "VirtualSize": 5})
    assert "VirtualSize" not in out
    # deliberate: dockerd drops these at 1.45, docker-compose v1 (which negotiates
    # the newest version) needs them
    assert {"Container", "ContainerConfig"} <= out.keys()


def test_image_list_placeholders_before_1_43() -> None:
    images = [
        {"RepoTags": [], "RepoDigests": [], "Size": 1},
        {"RepoTags": ["a:b"], "RepoDigests": [], "Size": 2},
    ]
    old = versions.shape_answer("ImageList", "1.42", json.loads(json.dumps(images)))
    assert old[0]["RepoTags"] == ["<none>:<none>"] and old[0]["RepoDigests"] == ["<none>@<none>"]
    assert old[1]["RepoDigests"] is None and old[1]["VirtualSize"] == 2
    new = versions.shape_answer("ImageList", "1.43", json.loads(json.dumps(images)))
    assert new[0]["RepoTags"] == [] and new[1]["RepoDigests"] == []


def test_container_endpoint_fields_by_version() -> None:
    def doc() -> dict:
        ep = {"Aliases": None, "DNSNames": ["c", "0123456789ab"], "GwPriority": 0}
        return {"Id": "0123456789abcdef", "NetworkSettings": {"Networks": {"net": ep}}}

    old = versions.shape_answer("ContainerInspect", "1.43", doc())["NetworkSettings"]["Networks"][
        "net"
    ]
    assert old == {"Aliases": ["0123456789ab"]}
    new = versions.shape_answer("ContainerInspect", "1.45", doc())["NetworkSettings"]["Networks"][
        "net"
    ]
    assert new == {"Aliases": None, "DNSNames": ["c", "0123456789ab"]}
    listed = versions.shape_answer("ContainerList", "1.41", [doc()])
    assert listed[0]["NetworkSettings"]["Networks"]["net"] == {"Aliases": None}


def test_info_before_1_25() -> None:
    info = {
        "SecurityOptions": ["name=seccomp,profile=default", "name=cgroupns"],
        "KernelVersion": "",
    }
    out = versions.shape_answer("SystemInfo", "1.24", info)
    assert out["SecurityOptions"] == ["seccomp", "cgroupns"]
    assert out["ExecutionDriver"] == "<not supported>" and out["KernelVersion"] == "<unknown>"


def test_network_list_drops_containers_from_1_28() -> None:
    nets = [{"Name": "n", "Containers": {"x": {"Name": "c"}}}]
    assert versions.shape_answer("NetworkList", "1.24", json.loads(json.dumps(nets)))[0][
        "Containers"
    ]
    assert versions.shape_answer("NetworkList", "1.30", nets)[0]["Containers"] == {}


def test_legacy_filter_parameter_before_1_41() -> None:
    q = {"filter": ["busy*"], "all": ["1"]}
    out = versions.read_query("ImageList", "1.40", q)
    assert out is not None and "filter" not in out and out["all"] == ["1"]
    assert json.loads(out["filters"][0]) == {"reference": ["busy*"]}
    assert versions.read_query("ImageList", "1.41", q) is None


def test_start_with_a_body_is_refused() -> None:
    versions.check_request("ContainerStart", 2, False)
    versions.check_request("ContainerStart", 0, False)
    with pytest.raises(InvalidParameter, match="non-empty request body"):
        versions.check_request("ContainerStart", 30, False)
    with pytest.raises(InvalidParameter):
        versions.check_request("ContainerStart", None, True)
    versions.check_request("ContainerStop", 30, False)


def test_create_reads_top_level_host_config_fields() -> None:
    body = {
        "Image": "busybox",
        "Dns": ["1.1.1.1"],
        "Links": ["a:b"],
        "VolumeDriver": "local",
        "Memory": 9,
    }
    out = versions.hoist_host_config(body)
    assert out["HostConfig"] == {
        "Dns": ["1.1.1.1"],
        "Links": ["a:b"],
        "VolumeDriver": "local",
        "Memory": 9,
    }
    assert "Dns" not in out and "Dns" in body  # the caller's body is left alone


def test_create_inner_host_config_wins_but_outer_resources_fill_zeroes() -> None:
    body = {
        "Dns": ["1.1.1.1"],
        "Memory": 9,
        "Cpuset": "0",
        "HostConfig": {"Dns": ["8.8.8.8"], "Memory": 0},
    }
    hc = versions.hoist_host_config(body)["HostConfig"]
    assert hc == {"Dns": ["8.8.8.8"], "Memory": 9, "CpusetCpus": "0"}


def test_create_rules_by_version() -> None:
    body = {
        "HostConfig": {"AutoRemove": True, "KernelMemory": 5},
        "Healthcheck": {"StartInterval": 1},
    }
    old = versions.read_create_body("1.24", body)
    assert old["HostConfig"] == {"IpcMode": "shareable", "KernelMemory": 5}
    assert old["Healthcheck"] == {}
    new = versions.read_create_body("1.44", body)
    assert new["HostConfig"] == {"AutoRemove": True} and new["Healthcheck"] == {"StartInterval": 1}
    assert versions.read_create_body("1.45", {"Image": "x"}) == {"Image": "x"}


def test_parameters_newer_than_the_client_are_dropped() -> None:
    q = {"signal": ["KILL"], "t": ["1"]}
    assert versions.read_query("ContainerStop", "1.41", q) == {"t": ["1"]}
    assert versions.read_query("ContainerStop", "1.42", q) is None


@pytest.mark.parametrize(
    ("filters", "want"),
    [(None, {"all": ["true"]}), ('{"label":{"a":true}}', {"label": {"a": True}, "all": ["true"]}),
     ('{"all":{"false":true}}', {"all": {"false": True, "true": True}})],
)  # fmt: skip
def test_volume_prune_before_1_42_takes_every_unused_volume(
    filters: str | None, want: dict
) -> None:
    q = {"filters": [filters]} if filters else {}
    out = versions.read_query("VolumePrune", "1.41", q)
    assert out is not None and json.loads(out["filters"][0]) == want
    assert versions.read_query("VolumePrune", "1.42", q) is None


def test_one_network_at_create_before_1_44() -> None:
    body = {"NetworkingConfig": {"EndpointsConfig": {"a": {}, "b": {}}}}
    with pytest.raises(InvalidParameter, match="cannot be connected to network endpoints: a, b"):
        versions.read_create_body("1.43", body)
    assert versions.read_create_body("1.44", body) == body
