"""Subnets for new networks and addresses for endpoints (daemon/services/net_ipam.py)."""

from __future__ import annotations

import pytest

from dockyard.api.errors import Forbidden, InvalidParameter
from dockyard.daemon.services.net_ipam import endpoint_address, requested_pool

NET = {"IPAM": {"Config": [{"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.1",
                            "AuxiliaryAddresses": {"r": "10.9.0.3"}}]}}  # fmt: skip


def test_endpoint_address_skips_taken_aux_and_warm() -> None:
    # taken: endpoints' addresses (a list) and warm sandboxes' (a set)
    assert endpoint_address(NET, {}, [*["10.9.0.2"], *{"10.9.0.4"}]) == "10.9.0.5"
    assert endpoint_address(NET, {}, {"10.9.0.2"}) == "10.9.0.4"
    asked = {"IPAMConfig": {"IPv4Address": "10.9.0.77"}}
    assert endpoint_address(NET, asked, []) == "10.9.0.77"


def test_requested_pool() -> None:
    pool = requested_pool({"Subnet": "10.20.0.0/16", "IPRange": "10.20.1.0/24"}, [], [], [])
    assert (pool.subnet, pool.gateway, pool.ip_range) == ("10.20.0.0/16", "10.20.0.1",
                                                          "10.20.1.0/24")  # fmt: skip
    with pytest.raises(Forbidden, match="Pool overlaps with other one"):
        requested_pool({"Subnet": "10.20.5.0/24"}, ["10.20.0.0/16"], [], [])
    with pytest.raises(InvalidParameter, match="no matching subnet for gateway 10.1.0.1"):
        requested_pool({"Subnet": "10.20.0.0/16", "Gateway": "10.1.0.1"}, [], [], [])
    # the first default pool free of other networks and of the host's routes
    defaults = [("172.18.0.0/16", 24)]
    chosen = requested_pool({}, ["172.18.0.0/24"], defaults, ["172.18.1.0/24"])
    assert chosen.subnet == "172.18.2.0/24" and chosen.gateway == "172.18.2.1"
    with pytest.raises(Forbidden, match="could not find an available"):
        requested_pool({}, ["172.18.0.0/16"], defaults, [])
