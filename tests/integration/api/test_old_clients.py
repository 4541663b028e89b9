"""docker-py pinned to older API versions (as scripts pin it) drives a whole life
cycle against dockyardd: each version's request bodies and query parameters
(docker-py shapes them by version) are read, and the answers have what that
version's client reads."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import docker
import pytest

from tests.conftest import Daemon

pytestmark = pytest.mark.integration


@pytest.fixture(params=["1.24", "1.30", "1.41"])
def client(daemon: Daemon, request: pytest.FixtureRequest) -> Iterator[docker.APIClient]:
    c = docker.APIClient(base_url=daemon.host, version=request.param, timeout=120)
    yield c
    c.close()


def test_life_cycle(client: docker.APIClient) -> None:
    tag = uuid.uuid4().hex[:8]
    net, vol, name = f"apiver-old-{tag}", f"apiver-old-{tag}", f"apiver-old-{tag}"
    client.create_network(net, driver="bridge")
    client.create_volume(vol, labels={"a": "b"})
    try:
        hc = client.create_host_config(
            binds={vol: {"bind": "/data", "mode": "rw"}},
            dns=["192.0.2.1"],
            restart_policy={"Name": "no"},
            network_mode=net,
            mem_limit="64m",
        )
        created = client.create_container(
            "busybox", ["sh", "-c", "echo hi > /data/f; cat /data/f; sleep 300"],
            name=name, host_config=hc, labels={"apiver": tag}, environment={"A": "1"},
        )  # fmt: skip
        cid = created["Id"]
        client.start(cid)
        doc = client.inspect_container(cid)
        assert doc["State"]["Running"]
        assert doc["HostConfig"]["Dns"] == ["192.0.2.1"]
        assert doc["HostConfig"]["Memory"] == 64 << 20
        assert net in doc["NetworkSettings"]["Networks"]
        assert "A=1" in doc["Config"]["Env"]

        listed = client.containers(filters={"label": f"apiver={tag}"})
        assert [c["Id"] for c in listed] == [cid]
        ex = client.exec_create(cid, ["cat", "/data/f"])
        assert client.exec_start(ex["Id"]) == b"hi\n"
        assert client.exec_inspect(ex["Id"])["ExitCode"] == 0

        image = client.inspect_image("busybox")
        assert "ContainerConfig" in image and "Config" in image
        assert any("busybox:latest" in (i["RepoTags"] or []) for i in client.images())
        assert client.inspect_volume(vol)["Labels"] == {"a": "b"}
        assert client.inspect_network(net)["Name"] == net

        client.stop(cid, timeout=1)
        assert client.wait(cid, timeout=60)["StatusCode"] == 137
        assert b"hi" in client.logs(cid)
    finally:
        for c in client.containers(all=True, filters={"name": name}):
            client.remove_container(c["Id"], force=True)
        client.remove_volume(vol)
        client.remove_network(net)
