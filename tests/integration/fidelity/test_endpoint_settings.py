"""Endpoint settings clients read (issue 12): a network's IPAM Options and
AuxiliaryAddresses, an endpoint's Aliases, Links, DriverOpts, MacAddress and
IPAMConfig.LinkLocalIPs, before start and while running, and `--mac-address`
really set on the interface. Each on dockyardd and the peer dockerd."""

from __future__ import annotations

import json
import random
import uuid

from tests.conftest import Daemon, inspect
from tests.integration.daemon.rawapi import request

MAC = "02:42:0a:e7:00:99"


def _subnet(engine: Daemon) -> str:
    # each engine gets its own range: both run at once on this host
    base = 231 if "fid-peer" in str(engine.root) else 232
    return f"10.{base}.{random.SystemRandom().randrange(256)}.0/24"


def _api(engine: Daemon, method: str, path: str, body: object = None) -> tuple[int, object]:
    # API 1.41: what the peer speaks, and where clients before 1.44 put MacAddress
    status, _, raw = request(engine.sock, method, "/v1.41" + path, body)
    return status, json.loads(raw) if raw.strip() else None


def test_network_ipam_options_and_aux_addresses(engine: Daemon) -> None:
    net = f"fid-ep-{uuid.uuid4().hex[:8]}"
    subnet = _subnet(engine)
    aux = subnet.replace(".0/24", ".2")
    engine.docker("network", "create", "--subnet", subnet, "--aux-address", f"host1={aux}",
                  net, check=True)  # fmt: skip
    plain = f"{net}-p"
    name = f"{net}-c"
    try:
        status, _ = _api(engine, "POST", "/networks/create", {"Name": plain})
        assert status == 201
        ipam = json.loads(engine.docker("network", "inspect", net, check=True).stdout)[0]["IPAM"]
        assert ipam["Config"][0]["AuxiliaryAddresses"] == {"host1": aux}
        ipam = json.loads(engine.docker("network", "inspect", plain, check=True).stdout)[0]["IPAM"]
        assert ipam["Options"] is None
        assert "AuxiliaryAddresses" not in ipam["Config"][0]
        # an auxiliary address is never handed out: the first container skips .2
        engine.docker("run", "-d", "--name", name, "--network", net, "busybox", "sleep", "300",
                      check=True)  # fmt: skip
        got = inspect(engine, name)["NetworkSettings"]["Networks"][net]["IPAddress"]
        assert got == subnet.replace(".0/24", ".3")
    finally:
        engine.docker("rm", "-f", name)
        engine.docker("network", "rm", net, plain)


def test_endpoint_settings_before_and_after_start(engine: Daemon) -> None:
    net = f"fid-ep-{uuid.uuid4().hex[:8]}"
    engine.docker("network", "create", "--subnet", _subnet(engine), net, check=True)
    other = f"{net}-o"
    name = f"{net}-c"
    try:
        engine.docker("run", "-d", "--name", other, "--network", net, "busybox",
                      "sleep", "300", check=True)  # fmt: skip
        status, made = _api(engine, "POST", f"/containers/create?name={name}", {
            "Image": "busybox", "Cmd": ["sleep", "300"], "MacAddress": MAC,
            "HostConfig": {"NetworkMode": net, "Links": [f"{other}:db"]},
            "NetworkingConfig": {"EndpointsConfig": {net: {
                "Aliases": ["web"], "Links": [f"{other}:db"], "DriverOpts": {"com.example.k": "v"},
                "IPAMConfig": {"LinkLocalIPs": ["169.254.7.7"]}}}},
        })  # fmt: skip
        assert status == 201, made
        _, created = _api(engine, "GET", f"/containers/{name}/json")
        assert isinstance(created, dict)
        ep = created["NetworkSettings"]["Networks"][net]
        # dockerd 20.10 adds the short id at start; moby 25+ at any time before API 1.45
        assert ep["Aliases"][0] == "web"
        assert ep["Links"] == [f"{other}:db"]
        assert ep["MacAddress"] == ""
        assert ep["IPAMConfig"]["LinkLocalIPs"] == ["169.254.7.7"]
        assert ep["DriverOpts"] == {"com.example.k": "v"}
        engine.docker("start", name, check=True)
        _, running = _api(engine, "GET", f"/containers/{name}/json")
        assert isinstance(running, dict)
        ep = running["NetworkSettings"]["Networks"][net]
        assert ep["Aliases"] == ["web", running["Id"][:12]]
        assert ep["Links"] == [f"{other}:db"]
        assert ep["MacAddress"] == MAC
        assert ep["IPAMConfig"]["LinkLocalIPs"] == ["169.254.7.7"]
        assert ep["DriverOpts"] == {"com.example.k": "v"}
        assert running["Config"]["MacAddress"] == MAC
        shown = engine.docker("exec", name, "ip", "addr", "show", "eth0", check=True).stdout
        assert MAC in shown
        assert "169.254.7.7/16" in shown
        got = engine.docker("exec", name, "ping", "-c1", "-W2", "db", check=True).stdout
        assert "1 packets received" in got
    finally:
        engine.docker("rm", "-f", name, other)
        engine.docker("network", "rm", net)


def test_mac_address_on_the_default_bridge(engine: Daemon) -> None:
    name = f"fid-mac-{uuid.uuid4().hex[:8]}"
    try:
        status, made = _api(engine, "POST", f"/containers/create?name={name}",
                            {"Image": "busybox", "Cmd": ["sleep", "300"], "MacAddress": MAC})  # fmt: skip
        assert status == 201, made
        engine.docker("start", name, check=True)
        doc = inspect(engine, name)
        assert doc["NetworkSettings"]["MacAddress"] == MAC
        assert doc["NetworkSettings"]["Networks"]["bridge"]["MacAddress"] == MAC
        shown = engine.docker("exec", name, "cat", "/sys/class/net/eth0/address", check=True)
        assert shown.stdout.strip() == MAC
    finally:
        engine.docker("rm", "-f", name)


def test_cli_mac_address(daemon: Daemon) -> None:
    """docker CLI 28 at API 1.44+ sends the MAC per network (the peer's 1.41 cannot)."""
    name = f"fid-mac-{uuid.uuid4().hex[:8]}"
    try:
        daemon.docker("run", "-d", "--name", name, "--mac-address", MAC, "busybox",
                      "sleep", "300", check=True)  # fmt: skip
        shown = daemon.docker("exec", name, "cat", "/sys/class/net/eth0/address", check=True)
        assert shown.stdout.strip() == MAC
        assert inspect(daemon, name)["NetworkSettings"]["MacAddress"] == MAC
    finally:
        daemon.docker("rm", "-f", name)


def test_driver_opts_on_connect(engine: Daemon) -> None:
    net = f"fid-ep-{uuid.uuid4().hex[:8]}"
    engine.docker("network", "create", "--subnet", _subnet(engine), net, check=True)
    name = f"{net}-c"
    try:
        engine.docker("create", "--name", name, "busybox", "sleep", "300", check=True)
        engine.docker(
            "network", "connect", "--driver-opt", "com.example.k=v", net, name, check=True
        )
        ep = inspect(engine, name)["NetworkSettings"]["Networks"][net]
        assert ep["DriverOpts"] == {"com.example.k": "v"}
    finally:
        engine.docker("rm", "-f", name)
        engine.docker("network", "rm", net)
