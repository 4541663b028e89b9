"""The network state of a test host and of one container on it, as text: what a
cross-host test shows when a way through the network is lost, taken before the
teardown removes it (the daemons' temp dirs and namespaces go with the test).
Read with the tools on the machine (iproute2, nft, iptables-save, /proc/sys) inside
the namespaces (`ip netns exec`, nsenter), so it shows what the kernel has, not what
the daemon thinks it programmed."""

from __future__ import annotations

import subprocess

from tests.integration.swarm.hosts import Host

_NODE = [
    "ip -d addr",
    "ip route",
    "ip neigh",
    "bridge fdb show br docker_gwbridge",
    "ip -s link show docker_gwbridge",
    "nft list ruleset",
    "iptables-save",
    "grep . /proc/sys/net/ipv4/conf/*/rp_filter /proc/sys/net/ipv4/conf/*/forwarding",
]
_TASK = ["ip -d addr", "ip route", "ip neigh", "nft list ruleset"]


def _run(prefix: list[str], cmd: str) -> str:
    p = subprocess.run([*prefix, "sh", "-c", cmd], capture_output=True, text=True, timeout=30)
    return f"$ {cmd}\n{p.stdout}{p.stderr}"


def dump(h: Host, cid: str = "") -> str:
    """Host `h`'s namespace, then container `cid`'s on it, then the daemon's log tail."""
    out = [f"=== {h.name} ({h.addr})"]
    out += [_run(["ip", "netns", "exec", h.name], c) for c in _NODE]
    if cid and h.daemon is not None:
        r = h.daemon.docker("inspect", "--format", "{{.State.Pid}}", cid)
        pid = r.stdout.strip()
        out.append(f"=== container {cid[:12]} pid {pid}")
        if pid.isdigit() and pid != "0":
            out += [_run(["nsenter", "-t", pid, "-n"], c) for c in _TASK]
    if h.daemon is not None:
        out.append("=== daemon log (tail)")
        out.append(h.daemon.log_path.read_text(errors="replace")[-20000:])
    return "\n".join(out)
