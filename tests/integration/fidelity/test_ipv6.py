"""IPv6 on user-defined bridge networks (issue 12): `network create --ipv6 --subnet
fd..::/64`, `run --ip6`, the addresses in container and network inspect, ping6
between containers, and IPv6 off inside containers on networks without it, each as
a peer dockerd 20.10 does. Subnets are random ULA /64s, so parallel runs and the
two engines never share one."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import Daemon


def _ula() -> str:
    r = random.SystemRandom()
    return f"fd{r.randrange(256):02x}:{r.randrange(0x10000):x}:{r.randrange(0x10000):x}:{r.randrange(0x10000):x}"


@pytest.fixture()
def v6net(engine: Daemon) -> Iterator[tuple[Daemon, str, str]]:
    """(engine, network name, its /64 prefix without the ::/64)."""
    name = f"fid6-{uuid.uuid4().hex[:8]}"
    prefix = _ula()
    engine.docker("network", "create", "--ipv6", "--subnet", f"{prefix}::/64", name, check=True)
    try:
        yield engine, name, prefix
    finally:
        ids = engine.docker("ps", "-aq", "--filter", f"network={name}").stdout.split()
        if ids:
            engine.docker("rm", "-f", *ids)
        engine.docker("network", "rm", name)


def _inspect(d: Daemon, *args: str) -> dict:
    return json.loads(d.docker(*args, check=True).stdout)[0]


def test_ipv6_network_inspect(v6net: tuple[Daemon, str, str]) -> None:
    d, name, prefix = v6net
    n = _inspect(d, "network", "inspect", name)
    assert n["EnableIPv6"] is True
    configs = n["IPAM"]["Config"]
    assert len(configs) == 2
    v4 = [c for c in configs if ":" not in c["Subnet"]]
    v6 = [c for c in configs if ":" in c["Subnet"]]
    assert v4 and v4[0]["Gateway"]
    assert configs[0] == v4[0]  # IPv4's first, as dockerd lists them
    assert v6 == [{"Subnet": f"{prefix}::/64"}]  # no gateway given: none shown


def test_container_on_ipv6_network(v6net: tuple[Daemon, str, str]) -> None:
    d, name, prefix = v6net
    d.docker("run", "-d", "--name", f"{name}-a", "--network", name, "busybox", "sleep", "300",
             check=True)  # fmt: skip
    d.docker("run", "-d", "--name", f"{name}-b", "--network", name, "--ip6", f"{prefix}::42",
             "busybox", "sleep", "300", check=True)  # fmt: skip
    a = _inspect(d, "inspect", f"{name}-a")["NetworkSettings"]["Networks"][name]
    b = _inspect(d, "inspect", f"{name}-b")["NetworkSettings"]["Networks"][name]
    assert a["GlobalIPv6Address"] == f"{prefix}::2"
    assert a["GlobalIPv6PrefixLen"] == 64
    assert a["IPv6Gateway"] == f"{prefix}::1"
    assert b["GlobalIPv6Address"] == f"{prefix}::42"
    assert b["IPAMConfig"] == {"IPv6Address": f"{prefix}::42"}
    n = _inspect(d, "network", "inspect", name)
    got = sorted(ep["IPv6Address"] for ep in n["Containers"].values())
    assert got == [f"{prefix}::2/64", f"{prefix}::42/64"]
    addrs = d.docker("exec", f"{name}-a", "ip", "-6", "addr", "show", "eth0", check=True).stdout
    assert f"{prefix}::2/64" in addrs
    route = d.docker("exec", f"{name}-a", "ip", "-6", "route", check=True).stdout
    assert f"default via {prefix}::1" in route, route
    r = d.docker("exec", f"{name}-a", "ping", "-6", "-c", "1", "-W", "5", f"{prefix}::42")
    assert r.returncode == 0, r.stdout + r.stderr
    r = d.docker("exec", f"{name}-a", "ping", "-6", "-c", "1", "-W", "5", f"{prefix}::1")
    assert r.returncode == 0, r.stdout + r.stderr


def test_ipv6_off_without_ipv6(engine: Daemon) -> None:
    """dockerd turns IPv6 off on a container's interface on a network without it."""
    r = engine.docker("run", "--rm", "busybox", "sh", "-c",
                      "cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6 "
                      "/proc/sys/net/ipv6/conf/all/disable_ipv6 "
                      "/proc/sys/net/ipv6/conf/lo/disable_ipv6; ip -6 addr", check=True)  # fmt: skip
    assert r.stdout.split() == ["1", "1", "1"]  # and no inet6 address at all


def test_ip6_on_network_without_ipv6(engine: Daemon) -> None:
    name = f"fid6-{uuid.uuid4().hex[:8]}"
    engine.docker("network", "create", name, check=True)
    try:
        r = engine.docker("run", "--rm", "--network", name, "--ip6", "fd00::5", "busybox", "true")
        assert r.returncode == 125
        assert (
            "user specified IP address is supported only when connecting to networks "
            "with user configured subnets" in r.stderr
        )
    finally:
        engine.docker("network", "rm", name)


def test_ipv6_without_subnet(engine: Daemon) -> None:
    name = f"fid6-{uuid.uuid4().hex[:8]}"
    r = engine.docker("network", "create", "--ipv6", name)
    if r.returncode == 0:
        engine.docker("network", "rm", name)
    assert r.returncode == 1
    assert (
        "could not find an available, non-overlapping IPv6 address pool among the "
        "defaults to assign to the network" in r.stderr
    )


def test_connect_with_ip6(v6net: tuple[Daemon, str, str]) -> None:
    """`network connect --ip6` to a running container: the address on a new interface."""
    d, name, prefix = v6net
    d.docker("run", "-d", "--name", f"{name}-c", "busybox", "sleep", "300", check=True)
    d.docker("network", "connect", "--ip6", f"{prefix}::77", name, f"{name}-c", check=True)
    ep = _inspect(d, "inspect", f"{name}-c")["NetworkSettings"]["Networks"][name]
    assert (ep["GlobalIPv6Address"], ep["GlobalIPv6PrefixLen"]) == (f"{prefix}::77", 64)
    assert ep["IPAMConfig"] == {"IPv6Address": f"{prefix}::77"}
    addrs = d.docker("exec", f"{name}-c", "ip", "-6", "addr", check=True).stdout
    assert f"{prefix}::77/64" in addrs
    d.docker("network", "disconnect", name, f"{name}-c", check=True)
    addrs = d.docker("exec", f"{name}-c", "ip", "-6", "addr", check=True).stdout
    assert prefix not in addrs
