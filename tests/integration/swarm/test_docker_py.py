"""docker-py's swarm, node, service, secret and config calls, as its documentation shows
them, against a single-node swarm."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest
from docker.types import ConfigReference, SecretReference, ServiceMode

from tests.conformance.conftest import free_ports
from tests.conftest import Daemon
from tests.integration.swarm.conftest import wait_for


@pytest.fixture(scope="module")
def client(node: Daemon) -> Iterator[docker.DockerClient]:
    c = docker.DockerClient(base_url=node.host, version="1.41")
    yield c
    c.close()


def test_swarm_lifecycle_and_objects(client: docker.DockerClient, node: Daemon) -> None:
    (port,) = free_ports(1)
    node_id = client.swarm.init(advertise_addr="127.0.0.1", listen_addr=f"127.0.0.1:{port}")
    assert isinstance(node_id, str) and len(node_id) == 25
    client.swarm.reload()
    assert client.swarm.attrs["JoinTokens"]["Worker"].startswith("SWMTKN-1-")
    assert client.swarm.version == client.swarm.attrs["Version"]["Index"]
    assert client.swarm.update(snapshot_interval=5000)
    client.swarm.reload()
    assert client.swarm.attrs["Spec"]["Raft"]["SnapshotInterval"] == 5000
    assert client.info()["Swarm"]["LocalNodeState"] == "active"

    (n,) = client.nodes.list()
    assert n.id == node_id and n.attrs["Spec"]["Role"] == "manager"
    assert n.attrs["ManagerStatus"]["Leader"] is True
    assert n.update({"Availability": "active", "Role": "manager", "Labels": {"disk": "ssd"}})
    n.reload()
    assert n.attrs["Spec"]["Labels"] == {"disk": "ssd"}
    assert [x.id for x in client.nodes.list(filters={"role": "manager"})] == [node_id]

    secret = client.secrets.create(name="db_pw", data=b"hunter2", labels={"a": "b"})
    assert client.secrets.get(secret.id).name == "db_pw"
    assert "Data" not in client.secrets.get(secret.id).attrs["Spec"]
    config = client.configs.create(name="app.conf", data=b"port=80\n")
    assert client.configs.get(config.id).attrs["Spec"]["Data"] == "cG9ydD04MAo="
    assert [c.name for c in client.configs.list()] == ["app.conf"]
    with pytest.raises(docker.errors.APIError) as err:
        client.secrets.create(name="db_pw", data=b"x")
    assert err.value.status_code == 409

    svc = client.services.create(
        "busybox", ["sleep", "100000"], name="pyweb", mode=ServiceMode("replicated", 2),
        constraints=["node.labels.disk==ssd"], env=["X=1"],
        secrets=[SecretReference(secret.id, "db_pw")],
        configs=[ConfigReference(config.id, "app.conf", filename="/etc/app.conf")],
    )  # fmt: skip
    assert client.services.get(svc.id).name == "pyweb"

    def running() -> list[dict]:
        return [t for t in svc.tasks(filters={"desired-state": "running"})
                if t["Status"]["State"] == "running"]  # fmt: skip

    wait_for("2 running", lambda: len(running()) == 2)
    cid = running()[0]["Status"]["ContainerStatus"]["ContainerID"]
    ctr = client.containers.get(cid)
    assert ctr.labels["com.docker.swarm.service.name"] == "pyweb"
    assert ctr.exec_run(["cat", "/run/secrets/db_pw"]).output == b"hunter2"
    assert ctr.exec_run(["cat", "/etc/app.conf"]).output == b"port=80\n"
    assert svc.scale(3)
    wait_for("3 running", lambda: len(running()) == 3)
    svc.reload()
    assert svc.update(env=["X=2"])
    wait_for(
        "updated",
        lambda: (
            len(running()) == 3
            and all(t["Spec"]["ContainerSpec"]["Env"] == ["X=2"] for t in running())
        ),
    )
    svc.reload()
    stale = svc.version - 1
    with pytest.raises(docker.errors.APIError) as err:
        client.api.update_service(svc.id, stale, task_template=svc.attrs["Spec"]["TaskTemplate"])
    assert "update out of sequence" in str(err.value)
    with pytest.raises(docker.errors.APIError) as err:
        secret.remove()
    assert "is in use by the following service: pyweb" in str(err.value)
    assert svc.remove()
    with pytest.raises(docker.errors.NotFound):
        client.services.get("pyweb")
    wait_for(
        "containers gone",
        lambda: (
            not client.api.containers(
                all=True, filters={"label": "com.docker.swarm.service.name=pyweb"}
            )
        ),
    )
    assert secret.remove() and config.remove()
    assert client.swarm.leave(force=True)
    assert client.info()["Swarm"]["LocalNodeState"] == "inactive"
