"""`docker swarm leave --force` on every node of 3 test hosts, in the order a cluster's
teardown takes them (the manager first, then the workers, whose store is gone with it),
after the state test_security leaves behind: a `service logs -f` whose client went away
(the workers served it on their TLS service). Each leave returns within a deadline and
leaves nothing: no task container, no swarm state, the node inactive."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import stop_daemon
from tests.integration.swarm.conftest import talking_service
from tests.integration.swarm.hosts import LEAVE_DEADLINE, Host, cluster_up, form_swarm


@pytest.fixture(scope="module")
def hosts(busybox_rootfs_tar: Path) -> Iterator[list[Host]]:
    if os.geteuid() != 0 or not shutil.which("etcd"):
        pytest.skip("needs root and etcd")
    with cluster_up(3, busybox_rootfs_tar, "dysw-leave-") as hs:
        yield hs


def test_leave_force_returns_on_every_node(hosts: list[Host]) -> None:
    form_swarm(hosts)
    d1 = hosts[0].daemon
    assert d1 is not None
    ids = talking_service(d1, "talk", 3)
    # a follower that goes away while the workers still stream to the manager
    follow = subprocess.Popen(["docker", "service", "logs", "-f", "--no-trunc", "talk"],
                              env=d1.env(), stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert follow.stdout is not None
        got: set[str] = set()
        deadline = time.monotonic() + 90
        while got != ids and time.monotonic() < deadline:
            line = follow.stdout.readline()
            assert line, "logs -f ended early"
            got |= {i for i in ids if i in line}  # type: ignore[union-attr]
        assert got == ids
    finally:
        follow.kill()
        follow.wait()
    d1.docker("service", "rm", "talk", check=True)

    for h in hosts:  # as hosts.Cluster.down: leave, then the daemon stops
        d = h.daemon
        assert d is not None
        start = time.monotonic()
        try:
            r = d.docker("swarm", "leave", "--force", timeout=LEAVE_DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{h.name}: swarm leave --force still running after {LEAVE_DEADLINE} s:\n"
                        + d.log_path.read_text()[-3000:])  # fmt: skip
        assert r.returncode == 0, r.stderr
        took = time.monotonic() - start
        state = d.docker("info", "--format", "{{.Swarm.LocalNodeState}}", check=True).stdout
        assert state.strip() == "inactive", (h.name, took)
        left = d.docker("ps", "-aq", "--filter", "label=com.docker.swarm.task.id", check=True)
        assert left.stdout.split() == [], h.name
        assert not (h.root / "data" / "swarm" / "state.json").exists(), h.name
        stop_daemon(d)
        h.daemon = None
