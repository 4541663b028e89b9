"""A daemon of its own for swarm tests (init changes the node for good), with busybox
imported; at the end the swarm is left and its etcd member, containers, tmpfs mounts
and processes are gone with the daemon's temp root."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conformance.conftest import free_ports
from tests.conftest import BUSYBOX_PATH, Daemon, kill_leftovers, start_daemon, stop_daemon


@pytest.fixture(scope="module")
def node(session_tmp: Path, busybox_rootfs_tar: Path) -> Iterator[Daemon]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if not os.path.exists("/usr/bin/etcd"):
        pytest.skip("etcd is not installed (etcd-server)")
    root = session_tmp / f"swarm-{os.urandom(3).hex()}"
    root.mkdir()
    d = start_daemon(root)
    try:
        r = d.docker("import", "-c", 'CMD ["sh"]', "-c", f"ENV PATH={BUSYBOX_PATH}",
                     str(busybox_rootfs_tar), "busybox:latest")  # fmt: skip
        assert r.returncode == 0, r.stderr
        yield d
    finally:
        d.docker("swarm", "leave", "--force", timeout=60)
        stop_daemon(d)
        kill_leftovers(root)


def init_swarm(d: Daemon) -> str:
    (port,) = free_ports(1)
    while port > 65000 or not all(_bindable(port + i) for i in (1, 2)):  # etcd peer, joins
        (port,) = free_ports(1)
    r = d.docker("swarm", "init", "--advertise-addr", "127.0.0.1",
                 "--listen-addr", f"127.0.0.1:{port}", timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr + d.log_path.read_text()[-3000:]
    return r.stdout


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for(what: str, cond, timeout: float = 60) -> object:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: last {last!r}")


def tasks(d: Daemon, service: str) -> list[dict]:
    """One GET /tasks (one consistent snapshot), through docker-py."""
    import docker

    client = docker.APIClient(base_url=d.host, version="1.41")
    try:
        return client.tasks(filters={"service": service})
    finally:
        client.close()


def talking_service(d: Daemon, name: str, nodes: int) -> set[str]:
    """A global service whose tasks say 'said-hello' once, then sleep; the ids of its
    tasks once one runs on each of `nodes` nodes."""
    d.docker("service", "create", "--detach", "--no-resolve-image", "--name", name,
             "--mode", "global", "busybox", "sh", "-c", "echo said-hello; sleep 100000",
             check=True)  # fmt: skip
    return wait_for(f"a running task of {name} on each node", lambda: (  # type: ignore[return-value]
        lambda ts: ts if len(ts) == nodes else None)(
        {t["ID"] for t in tasks(d, name) if t["Status"]["State"] == "running"}))  # fmt: skip
