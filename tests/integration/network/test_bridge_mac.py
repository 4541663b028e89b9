"""A bridge network's gateway keeps its MAC address while ports come and go.

A Linux bridge given no address of its own takes the lowest MAC among its ports and
changes it as ports join and leave. A container that already resolved its gateway
keeps sending to the old MAC, which the bridge then receives as "another host's"
frame and drops, so the container loses its way out (to the host and beyond) until
its neighbour entry expires, up to about a minute later. Every new container's
host-side veth has a random MAC, so this happened at random (issue 18:
test_overlay's task lost its way to its node over docker_gwbridge). Here the test
plugs in a port whose MAC is lower than any the kernel picks at random, as an
unlucky container's veth would be; the same test runs against the peer dockerd,
whose bridges keep their MAC (libnetwork sets one at creation).
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BUSYBOX_PATH, Daemon
from tests.peers import peer_process

LOWEST = "00:00:00:00:00:01"  # below any kernel-random (locally administered) MAC


def _mac(link: str) -> str:
    return Path(f"/sys/class/net/{link}/address").read_text().strip()


@pytest.fixture(params=["dockyardd", "peer-dockerd"])
def engine(request: pytest.FixtureRequest, busybox_rootfs_tar: Path) -> Iterator[Daemon]:
    if request.param == "dockyardd":
        yield request.getfixturevalue("daemon")
        return
    with peer_process("dy-brmac-") as peer:
        peer.docker("import", "-c", 'CMD ["sh"]', "-c", f"ENV PATH={BUSYBOX_PATH}",
                    str(busybox_rootfs_tar), "busybox:latest", check=True)  # fmt: skip
        yield peer


@pytest.fixture
def net(engine: Daemon) -> Iterator[tuple[str, str]]:
    """A bridge network (its name, its bridge's name); gone afterwards."""
    daemon = engine
    name, br = f"mac-{secrets.token_hex(3)}", f"dym{secrets.token_hex(2)}"
    daemon.docker("network", "create", "-o", f"com.docker.network.bridge.name={br}", name,
                  check=True)  # fmt: skip
    try:
        yield name, br
    finally:
        daemon.docker("network", "rm", name)


def test_gateway_mac_stays_when_a_lower_port_joins(engine: Daemon, net: tuple[str, str]) -> None:
    daemon, (name, br) = engine, net
    cs = [f"c-{secrets.token_hex(3)}" for _ in range(2)]
    veth = f"dymv{secrets.token_hex(3)}"
    try:
        for c in cs:
            daemon.docker("run", "-d", "--name", c, "--network", name, "busybox", "sleep", "600",
                          check=True)  # fmt: skip
        info = json.loads(daemon.docker("network", "inspect", name, check=True).stdout)[0]
        gw = info["IPAM"]["Config"][0]["Gateway"]
        for c in cs:  # each caches the gateway's MAC (one of them: the other's port's, then)
            r = daemon.docker("exec", c, "ping", "-c", "1", "-W", "2", gw)
            assert r.returncode == 0, r.stdout + r.stderr
        before = _mac(br)

        subprocess.run(["ip", "link", "add", veth, "address", LOWEST, "type", "veth",
                        "peer", "name", f"{veth}p"], check=True)  # fmt: skip
        subprocess.run(["ip", "link", "set", veth, "master", br, "up"], check=True)

        assert _mac(br) == before, "the bridge took its new port's MAC"
        for c in cs:
            r = daemon.docker("exec", c, "ping", "-c", "1", "-W", "2", gw)
            assert r.returncode == 0, f"{c} lost its gateway: {r.stdout}{r.stderr}"
    finally:
        subprocess.run(["ip", "link", "del", veth], capture_output=True)
        daemon.docker("rm", "-f", *cs)
