"""Host-side links over netlink with pyroute2 (bridges, veth pairs, sysctls).

pyroute2's IPRoute talks netlink on a socket in the caller's namespace and
does not fork (checked with strace: no clone without CLONE_THREAD, no setns),
so the daemon may use it from a worker thread. The container's end of a veth
pair is created straight inside the target namespace (IFLA_NET_NS_FD).
"""

from __future__ import annotations

import contextlib
import errno
import os

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError


def _sysctl(path: str, value: str) -> None:
    with contextlib.suppress(OSError), open(path, "w") as f:
        f.write(value)


def ensure_bridge(name: str, gateway: str, prefixlen: int, mtu: int = 1500) -> None:
    """The bridge with its gateway address, up; its MAC address pinned (see _pin_mac)."""
    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=name)
        if not idx:
            ipr.link("add", ifname=name, kind="bridge")
            idx = ipr.link_lookup(ifname=name)
        i = idx[0]
        _pin_mac(ipr, i)
        have = {a.get("IFA_ADDRESS") for a in ipr.get_addr(index=i, family=2)}
        if gateway not in have:
            ipr.addr("add", index=i, address=gateway, prefixlen=prefixlen)
        ipr.link("set", index=i, state="up", mtu=mtu)
    _sysctl(f"/proc/sys/net/ipv4/conf/{name}/route_localnet", "1")


def _pin_mac(ipr: IPRoute, index: int) -> None:
    """The bridge keeps the MAC address it has now. A bridge given none takes the lowest
    MAC of its ports and changes it as ports come and go; a container that resolved its
    gateway before then sends to a MAC the bridge no longer owns, and its frames are
    dropped as another host's until its neighbour entry expires (up to a minute: the
    lost way out of issue 18). libnetwork gives each bridge a MAC for the same reason.
    Setting the current address (not a new one) keeps the one that containers of an
    existing bridge resolved; once set by a user, the kernel no longer recomputes it.
    Set every time (creation and daemon start only): whether it was set before is in
    sysfs, which shows the namespace it was mounted in, not necessarily the daemon's."""
    mac = ipr.get_links(index)[0].get_attr("IFLA_ADDRESS")
    ipr.link("set", index=index, address=mac)


IFA_F_NODAD = 0x02


def ensure_address(name: str, address: str, prefixlen: int) -> None:
    """`address` on link `name` (an IPv6 one without duplicate address detection:
    usable at once, as libnetwork adds a bridge's IPv6 gateway)."""
    with IPRoute() as ipr:
        i = ipr.link_lookup(ifname=name)[0]
        family = 10 if ":" in address else 2
        have = {a.get("IFA_ADDRESS") for a in ipr.get_addr(index=i, family=family)}
        if address not in have:
            flags = IFA_F_NODAD if family == 10 else 0
            ipr.addr("add", index=i, address=address, prefixlen=prefixlen, flags=flags)


def delete_bridge_if_unused(name: str) -> bool:
    """Deletes a bridge nobody is plugged into (another daemon may share it)."""
    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=name)
        if not idx:
            return True
        if any(link.get("IFLA_MASTER") == idx[0] for link in ipr.get_links()):
            return False
        with contextlib.suppress(NetlinkError):
            ipr.link("del", index=idx[0])
        return True


def delete_link(name: str) -> None:
    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=name)
        if idx:
            with contextlib.suppress(NetlinkError):
                ipr.link("del", index=idx[0])


def unplug(name: str) -> None:
    """Off its bridge at once (~1 ms; deleting a veth waits for an RCU grace period,
    20-40 ms): the pair itself goes with the container's namespace."""
    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=name)
        if idx:
            with contextlib.suppress(NetlinkError):
                ipr.link("set", index=idx[0], master=0)


def ports_of(bridge: str) -> list[str]:
    """The names of the links plugged into `bridge` ([] if there is no such bridge)."""
    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=bridge)
        if not idx:
            return []
        return [
            link.get_attr("IFLA_IFNAME")
            for link in ipr.get_links()
            if link.get_attr("IFLA_MASTER") == idx[0]
        ]


def link_exists(name: str) -> bool:
    with IPRoute() as ipr:
        return bool(ipr.link_lookup(ifname=name))


def add_veth(host_name: str, peer_name: str, netns_path: str, bridge: str, mtu: int) -> None:
    fd = os.open(netns_path, os.O_RDONLY)
    try:
        with IPRoute() as ipr:
            spec = {"ifname": host_name, "kind": "veth", "mtu": mtu,
                    "peer": {"ifname": peer_name, "net_ns_fd": fd, "mtu": mtu}}  # fmt: skip
            try:
                ipr.link("add", **spec)
            except NetlinkError as exc:
                if exc.code != errno.EEXIST:
                    raise
                # The same container's previous pair, its namespace still being freed.
                stale = ipr.link_lookup(ifname=host_name)
                if stale:
                    with contextlib.suppress(NetlinkError):
                        ipr.link("del", index=stale[0])
                ipr.link("add", **spec)
            v = ipr.link_lookup(ifname=host_name)[0]
            br = ipr.link_lookup(ifname=bridge)[0]
            ipr.link("set", index=v, master=br, state="up")
            with contextlib.suppress(NetlinkError):
                ipr.brport("set", index=v, hairpin_mode=1)
    finally:
        os.close(fd)


def host_routes() -> list[str]:
    """IPv4 destinations routed on the host (to avoid subnets that collide)."""
    out = []
    with IPRoute() as ipr:
        for r in ipr.get_routes(family=2):
            dst = r.get("RTA_DST")
            if dst:
                out.append(f"{dst}/{r['dst_len']}")
    return out


def enable_forwarding() -> None:
    _sysctl("/proc/sys/net/ipv4/ip_forward", "1")
