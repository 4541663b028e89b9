"""`dockyardd --cluster-store etcd://...`: the swarm's state in an etcd cluster the user
runs; no member is started by the daemon, and the state is gone after the last manager
leaves."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conformance.conftest import etcd_url  # noqa: F401  (the fixture)
from tests.conftest import BUSYBOX_PATH, Daemon, kill_leftovers, start_daemon, stop_daemon
from tests.integration.swarm.conftest import tasks, wait_for


@pytest.fixture
def daemon_on_store(session_tmp: Path, busybox_rootfs_tar: Path, etcd_url: str) -> Iterator[Daemon]:  # noqa: F811
    if os.geteuid() != 0:
        pytest.skip("needs root")
    root = session_tmp / f"swarm-ext-{os.urandom(3).hex()}"
    root.mkdir()
    d = start_daemon(root, ["--cluster-store", "etcd://" + etcd_url.removeprefix("http://")])
    try:
        d.docker("import", "-c", 'CMD ["sh"]', "-c", f"ENV PATH={BUSYBOX_PATH}",
                 str(busybox_rootfs_tar), "busybox:latest", check=True)  # fmt: skip
        yield d
    finally:
        d.docker("swarm", "leave", "--force", timeout=60)
        stop_daemon(d)
        kill_leftovers(root)


def _keys(etcd_url: str) -> int:  # noqa: F811
    body = json.dumps({"key": "L2RvY2t5YXJkLw==", "range_end": "L2RvY2t5YXJkMA==",
                       "count_only": True}).encode()  # fmt: skip
    req = urllib.request.Request(etcd_url + "/v3/kv/range", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return int(json.loads(r.read()).get("count", 0))


def test_swarm_on_an_external_etcd(daemon_on_store: Daemon, etcd_url: str) -> None:  # noqa: F811
    d = daemon_on_store
    d.docker("swarm", "init", "--advertise-addr", "127.0.0.1", check=True, timeout=60)
    assert not (d.root / "data" / "swarm" / "etcd").exists()  # no member of its own
    assert _keys(etcd_url) > 0
    d.docker("service", "create", "--detach", "--no-resolve-image", "--name", "ext",
             "--replicas", "2", "busybox", "sleep", "100000", check=True)  # fmt: skip
    wait_for("2 running", lambda: sum(t["Status"]["State"] == "running"
                                      for t in tasks(d, "ext")) == 2)  # fmt: skip
    d.docker("swarm", "leave", "--force", check=True, timeout=60)
    assert _keys(etcd_url) == 0
    wait_for(
        "task containers removed",
        lambda: (
            not d.docker(
                "ps", "-aq", "--filter", "label=com.docker.swarm.service.name=ext"
            ).stdout.split()
        ),
    )
