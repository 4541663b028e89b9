"""Pure network code: IPAM, port specs, the firewall rule text, DNS answers."""

from __future__ import annotations

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from dockyard.api.errors import Conflict, InvalidParameter
from dockyard.network import dns, firewall, ipam, ports


def test_allocate_skips_gateway_and_used() -> None:
    assert ipam.allocate("10.1.2.0/24", "10.1.2.1", []) == "10.1.2.2"
    assert ipam.allocate("10.1.2.0/24", "10.1.2.1", ["10.1.2.2"]) == "10.1.2.3"
    assert ipam.allocate("10.1.2.0/24", "10.1.2.1", [], ip_range="10.1.2.128/25") == "10.1.2.129"


def test_allocate_wanted_and_exhaustion() -> None:
    assert ipam.allocate("10.1.2.0/24", "10.1.2.1", [], wanted="10.1.2.50") == "10.1.2.50"
    with pytest.raises(Conflict):
        ipam.allocate("10.1.2.0/24", "10.1.2.1", ["10.1.2.50"], wanted="10.1.2.50")
    with pytest.raises(InvalidParameter):
        ipam.allocate("10.1.2.0/24", "10.1.2.1", [], wanted="10.9.9.9")
    with pytest.raises(Conflict):
        ipam.allocate("10.1.2.0/30", "10.1.2.1", ["10.1.2.2"])


def test_pools_and_overlap() -> None:
    subnets = ipam.split_pool("10.5.0.0/16", 24)
    assert subnets[:2] == ["10.5.0.0/24", "10.5.1.0/24"] and len(subnets) == 256
    assert ipam.overlaps("10.5.1.0/24", ["10.5.0.0/16"])
    assert not ipam.overlaps("10.6.0.0/24", ["10.5.0.0/16"])
    assert ipam.mac_for("172.17.0.2") == "02:42:ac:11:00:02"


def test_requested_ports() -> None:
    got = ports.requested(
        {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}], "53/udp": [{"HostPort": ""}]},
        {"80/tcp": {}, "443/tcp": {}},
        publish_all=True,
    )
    assert (80, "tcp", "127.0.0.1", 8080, 8080) in got
    assert (53, "udp", "", 0, 0) in got
    assert (443, "tcp", "", 0, 0) in got
    assert ports.requested({"80": [{"HostPort": "9000-9010"}]}, None, False) == [
        (80, "tcp", "", 9000, 9010)
    ]
    with pytest.raises(InvalidParameter):
        ports.requested({"80/xyz": []}, None, False)


def test_ports_view() -> None:
    view = ports.ports_view([ports.Binding("tcp", 80, "", 32768)], {"80/tcp": {}, "22/tcp": {}})
    assert view == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}], "22/tcp": None}


def test_firewall_render_isolation_and_ports() -> None:
    nets = [
        firewall.NetRules("dyaa00", "10.1.0.0/24", ports=[
            firewall.Port("tcp", "127.0.0.1", 8080, "10.1.0.2", 80)]),
        firewall.NetRules("dybb00", "10.2.0.0/24", internal=True),
    ]  # fmt: skip
    text = firewall.render("dyaa00", nets)
    assert ":DY-dyaa00 - [0:0]" in text and ":DY-dyaa00-FWD - [0:0]" in text
    assert (
        "-A DY-dyaa00 -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 "
        "-j DNAT --to-destination 10.1.0.2:80" in text
    )
    assert "-A DY-dyaa00-POST -s 10.1.0.0/24 ! -o dyaa00 -j MASQUERADE" in text
    assert "-s 10.2.0.0/24" not in text  # internal: no masquerade
    assert "-A DY-dyaa00-FWD -i dyaa00 -o dybb00 -j DROP" in text
    assert "-A DY-dyaa00-FWD -i dybb00 -o dyaa00 -j DROP" in text
    assert "-A DY-dyaa00-FWD -i dybb00 ! -o dybb00 -j DROP" in text
    assert text.count("COMMIT") == 2
    # every rule lives in this daemon's own chains
    for line in text.splitlines():
        if line.startswith("-A"):
            assert line.split()[1].startswith("DY-dyaa00")


def test_dns_answer() -> None:
    table = {"web": ["10.1.0.2"], "www": ["10.1.0.2"]}
    q = DNSRecord.question("web").pack()
    out, ours = dns.answer(q, lambda n: table.get(n, []))
    r = DNSRecord.parse(out)
    assert ours and r.header.rcode == RCODE.NOERROR
    assert [str(a.rdata) for a in r.rr] == ["10.1.0.2"]
    out, ours = dns.answer(DNSRecord.question("nope").pack(), lambda n: table.get(n, []))
    assert not ours and DNSRecord.parse(out).header.rcode == RCODE.NXDOMAIN
    out, _ = dns.answer(DNSRecord.question("web", "AAAA").pack(), lambda n: table.get(n, []))
    r = DNSRecord.parse(out)
    assert r.header.rcode == RCODE.NOERROR and not r.rr and r.q.qtype == QTYPE.AAAA
    assert dns.answer(b"\x00garbage", lambda n: [])[0] is None


def test_forward_to_an_upstream_on_loopback() -> None:
    import asyncio
    import socket

    async def main() -> bytes | None:
        loop = asyncio.get_running_loop()
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        up.bind(("127.0.0.1", 0))
        up.setblocking(False)
        port = up.getsockname()[1]

        async def serve() -> None:
            data, addr = await loop.sock_recvfrom(up, 512)
            reply, _ = dns.answer(data, lambda n: ["192.0.2.77"])
            await loop.sock_sendto(up, reply, addr)

        task = asyncio.ensure_future(serve())
        try:
            return await dns.forward(DNSRecord.question("example.test").pack(), ["127.0.0.1"],
                                     timeout=2, port=port)  # fmt: skip
        finally:
            task.cancel()
            up.close()

    out = asyncio.run(main())
    assert out is not None and str(DNSRecord.parse(out).rr[0].rdata) == "192.0.2.77"
