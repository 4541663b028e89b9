"""HostConfig's rules: what dockerd refuses at create (its wording), option parsers."""

from __future__ import annotations

import pytest

from dockyard.api.errors import InvalidParameter
from dockyard.daemon.services import hostconfig
from dockyard.daemon.services.spec_inputs import SecurityDefaults


@pytest.mark.parametrize(
    ("hc", "message"),
    [
        ({"Memory": 1024}, "Minimum memory limit allowed is 6MB"),
        ({"MemorySwap": 1 << 30}, "You should always set the Memory limit"),
        ({"Memory": 64 << 20, "MemorySwap": 32 << 20}, "Minimum memoryswap limit"),
        ({"NanoCpus": 10**9, "CpuQuota": 1000}, "Nano CPUs and CPU Quota"),
        ({"OomScoreAdj": 5000}, "range for oom score adj"),
        ({"Sysctls": {"kernel.hostname": "x"}}, "is not whitelisted"),
        ({"Sysctls": {"net.ipv4.ip_forward": "1"}, "NetworkMode": "host"}, "host network"),
        ({"Ulimits": [{"Name": "bogus"}]}, "invalid ulimit type"),
        ({"CpusetCpus": "0-999"}, "Requested CPUs are not available - requested 0-999"),
        ({"CpusetCpus": "x"}, "Invalid value x for cpuset cpus"),
    ],
)
def test_validate_host_config(hc, message) -> None:
    with pytest.raises(InvalidParameter, match=message):
        hostconfig.validate_host_config(hc)


def test_userns_conflicts() -> None:
    remap = SecurityDefaults(userns_remap=(100000, 100000, 65536))
    with pytest.raises(InvalidParameter, match="privileged mode is incompatible"):
        hostconfig.validate_host_config({"Privileged": True}, remap)
    hostconfig.validate_host_config({"Privileged": True, "UsernsMode": "host"}, remap)


def test_parse_ulimit() -> None:
    assert hostconfig.parse_ulimit("nofile=10:20") == ("nofile", 10, 20)
    assert hostconfig.parse_ulimit("nproc=5") == ("nproc", 5, 5)
    with pytest.raises(InvalidParameter, match="soft limit must be less"):
        hostconfig.parse_ulimit("nofile=20:10")


def test_parse_cpuset() -> None:
    assert hostconfig.parse_cpuset("0-2,5") == {0, 1, 2, 5}
