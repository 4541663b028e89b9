"""`--blkio-weight` (issue 12.7) is not dropped silently: where the kernel takes a
block I/O weight (v1 `blkio.weight`, or `blkio.bfq.weight` on kernels with only BFQ;
v2 `io`) it is written to the container's cgroup; where it does not, create warns as
dockerd does and the weight is discarded (inspect shows 0)."""

from __future__ import annotations

import uuid

from dockyard.runtime import cgroups
from tests.conftest import Daemon, inspect

WARNING = (
    "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
)


def test_blkio_weight_is_written_or_warned(engine: Daemon) -> None:
    name = f"fid-blkio-{uuid.uuid4().hex[:8]}"
    r = engine.docker("run", "-d", "--name", name, "--network", "none", "--blkio-weight", "300",
                      "busybox", "sleep", "300")  # fmt: skip
    try:
        assert r.returncode == 0, r.stderr
        weight = inspect(engine, name)["HostConfig"]["BlkioWeight"]
        if cgroups.blkio_weight_supported():
            assert WARNING not in r.stderr
            assert weight == 300
            cgroup = engine.docker("exec", name, "cat", "/proc/self/cgroup", check=True).stdout
            assert "blkio" in cgroup or "0::" in cgroup
        else:
            assert WARNING in r.stderr, r.stderr
            assert weight == 0
    finally:
        engine.docker("rm", "-f", name)
