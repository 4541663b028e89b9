"""docker-py (the Docker SDK for Python), unchanged, against dockyardd."""

from __future__ import annotations

import docker
import pytest

from tests.conftest import Daemon

pytestmark = pytest.mark.integration


@pytest.fixture()
def client(daemon: Daemon) -> docker.DockerClient:
    c = docker.DockerClient(base_url=daemon.host)
    yield c
    c.close()


def test_run_remove_returns_output(client: docker.DockerClient) -> None:
    assert client.containers.run("busybox", "echo hi", remove=True) == b"hi\n"


def test_ping_and_version(client: docker.DockerClient) -> None:
    assert client.ping() is True
    assert client.version()["ApiVersion"] == "1.45"


def test_detached_life_cycle(client: docker.DockerClient) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "echo started; sleep 300"], detach=True)
    try:
        c.reload()
        assert c.status == "running"
        assert c.attrs["State"]["Pid"] > 0
        c.stop(timeout=1)
        assert c.wait()["StatusCode"] == 137
        assert b"started" in c.logs()
    finally:
        c.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(c.id)


def test_nonzero_exit_raises_container_error(client: docker.DockerClient) -> None:
    with pytest.raises(docker.errors.ContainerError) as info:
        client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 2"], remove=True)
    assert info.value.exit_status == 2


def test_image_not_found(client: docker.DockerClient) -> None:
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("nosuchimage:latest")


def test_attach_over_websocket(client: docker.DockerClient, daemon: Daemon) -> None:
    import aiohttp

    c = client.containers.create("busybox", ["sh", "-c", "sleep 0.5; echo over ws; echo err >&2"])
    try:

        async def scenario() -> bytes:
            conn = aiohttp.UnixConnector(path=daemon.sock)
            async with aiohttp.ClientSession(connector=conn) as session:
                url = f"http://d/v1.45/containers/{c.id}/attach/ws?stream=1&stdout=1&stderr=1"
                async with session.ws_connect(url) as ws:
                    c.start()
                    out = b""
                    async for msg in ws:
                        out += msg.data
                    return out

        import asyncio

        out = asyncio.run(scenario())
        assert b"over ws\n" in out and b"err\n" in out
        assert b"\x01\x00\x00\x00" not in out  # raw, not multiplexed
    finally:
        c.remove(force=True)


def test_short_id_alias_only_before_api_1_45(daemon: Daemon) -> None:
    import uuid

    net = "dyal" + uuid.uuid4().hex[:6]
    old = docker.APIClient(base_url=daemon.host, version="1.41")
    new = docker.APIClient(base_url=daemon.host, version="1.45")
    old.create_network(net)
    cid = old.create_container(
        "busybox",
        ["true"],
        host_config=old.create_host_config(network_mode=net),
        networking_config=old.create_networking_config(
            {net: old.create_endpoint_config(aliases=["web"])}
        ),
    )["Id"]
    try:
        aliases_old = old.inspect_container(cid)["NetworkSettings"]["Networks"][net]["Aliases"]
        aliases_new = new.inspect_container(cid)["NetworkSettings"]["Networks"][net]["Aliases"]
        assert "web" in aliases_old and cid[:12] in aliases_old
        assert "web" in aliases_new and cid[:12] not in aliases_new
    finally:
        old.remove_container(cid, force=True)
        old.remove_network(net)
