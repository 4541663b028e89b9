"""The default bridge in dual stack (issue 12): a daemon started with `--ipv6
--fixed-cidr-v6 PREFIX::/64` gives every container on the default bridge an IPv6
address too, shown in inspect as dockerd 20.10 shows it; containers reach each
other over IPv6. Each engine gets a daemon of its own (the flags are the daemon's)
and a random ULA prefix."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Daemon, daemon_with_busybox
from tests.integration.fidelity.conftest import bridged_peer
from tests.integration.fidelity.test_ipv6 import _ula


@contextlib.contextmanager
def _dockyardd(tar: Path, extra: list[str]) -> Iterator[Daemon]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    root = Path(tempfile.mkdtemp(prefix="dy6-", dir="/tmp"))
    try:
        with daemon_with_busybox(root, tar, extra) as d:
            yield d
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["dockyardd", "dockerd"])
def dual(request: pytest.FixtureRequest, busybox_rootfs_tar: Path) -> Iterator[tuple[Daemon, str]]:
    prefix = _ula()
    extra = ["--ipv6", "--fixed-cidr-v6", f"{prefix}::/64"]
    start = _dockyardd if request.param == "dockyardd" else bridged_peer
    with start(busybox_rootfs_tar, extra) as d:
        yield d, prefix


def test_default_bridge_dual_stack(dual: tuple[Daemon, str]) -> None:
    d, prefix = dual
    n = json.loads(d.docker("network", "inspect", "bridge", check=True).stdout)[0]
    assert n["EnableIPv6"] is True
    assert n["IPAM"]["Config"][1:] == [{"Subnet": f"{prefix}::/64"}]
    for name in ("v6a", "v6b"):
        d.docker("run", "-d", "--name", name, "busybox", "sleep", "300", check=True)
    a = json.loads(d.docker("inspect", "v6a", check=True).stdout)[0]["NetworkSettings"]
    b = json.loads(d.docker("inspect", "v6b", check=True).stdout)[0]["NetworkSettings"]
    # the default bridge's addresses are made from the MAC (libnetwork's bridge
    # driver), not handed out in order as on user networks
    mac = int(a["MacAddress"].replace(":", ""), 16)
    net = ipaddress.IPv6Network(f"{prefix}::/64")
    assert a["GlobalIPv6Address"] == str(net.network_address + mac)
    assert a["GlobalIPv6PrefixLen"] == 64
    assert a["IPv6Gateway"] == f"{prefix}::1"
    ep = a["Networks"]["bridge"]
    assert (ep["GlobalIPv6Address"], ep["GlobalIPv6PrefixLen"], ep["IPv6Gateway"]) == (
        a["GlobalIPv6Address"], 64, f"{prefix}::1",
    )  # fmt: skip
    r = d.docker("exec", "v6a", "ping", "-6", "-c", "1", "-W", "5", b["GlobalIPv6Address"])
    assert r.returncode == 0, r.stdout + r.stderr
    r = d.docker("exec", "v6a", "cat", "/proc/sys/net/ipv6/conf/eth0/disable_ipv6", check=True)
    assert r.stdout.strip() == "0"
