"""The iptables rule set of one daemon: rendered as pure text, applied in one exec.

Every rule lives in this daemon's own chains (suffixed with a tag, the default
bridge's name, so two daemons on a host never touch each other's rules):

  nat    DY-<tag>        DNAT of published ports (jumped to from PREROUTING and
                         OUTPUT for local destinations, 127.0.0.1 included)
  nat    DY-<tag>-POST   masquerade out of each network, from the host's loopback
                         (route_localnet) and hairpin
  filter DY-<tag>-FWD    isolation between networks, --internal, published ports

The whole set is rewritten at once with `iptables-restore --noflush` (declaring
a chain flushes it), so it is always consistent with the network state. The
exec'd iptables binary is the host's (legacy or nf_tables): no library binds
the nf_tables netlink API as portably, and one exec per change is cheap (~5 ms).
Published ports use DNAT plus route_localnet rather than a userland proxy: no
process per port and kernel-speed forwarding, also for 127.0.0.1.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field

from dockyard.api.errors import SystemError_


@dataclass(frozen=True)
class Port:
    proto: str
    host_ip: str
    host_port: int
    ip: str
    container_port: int


@dataclass
class NetRules:
    bridge: str
    subnet: str
    internal: bool = False
    icc: bool = True
    ports: list[Port] = field(default_factory=list)


def chains(tag: str) -> tuple[str, str, str]:
    return f"DY-{tag}", f"DY-{tag}-POST", f"DY-{tag}-FWD"


def jumps(tag: str) -> list[tuple[str, str, list[str]]]:
    dnat, post, fwd = chains(tag)
    return [
        ("nat", "PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", dnat]),
        ("nat", "OUTPUT", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", dnat]),
        ("nat", "POSTROUTING", ["-j", post]),
        ("filter", "FORWARD", ["-j", fwd]),
    ]


def render(tag: str, nets: list[NetRules]) -> str:
    """iptables-restore input for this daemon's chains (pure)."""
    dnat, post, fwd = chains(tag)
    nat = ["*nat", f":{dnat} - [0:0]", f":{post} - [0:0]"]
    flt = ["*filter", f":{fwd} - [0:0]"]
    for n in nets:
        b = n.bridge
        if not n.internal:
            nat.append(f"-A {post} -s {n.subnet} ! -o {b} -j MASQUERADE")
        nat.append(f"-A {post} -o {b} -m addrtype --src-type LOCAL -j MASQUERADE")
        for p in n.ports:
            dst = f"-d {p.host_ip}/32 " if p.host_ip not in ("", "0.0.0.0") else ""
            nat.append(
                f"-A {dnat} {dst}-p {p.proto} -m {p.proto} --dport {p.host_port} "
                f"-j DNAT --to-destination {p.ip}:{p.container_port}"
            )
            nat.append(
                f"-A {post} -s {p.ip}/32 -d {p.ip}/32 -p {p.proto} -m {p.proto} "
                f"--dport {p.container_port} -j MASQUERADE"
            )
    for n in nets:
        for m in nets:
            if m.bridge != n.bridge:
                flt.append(f"-A {fwd} -i {n.bridge} -o {m.bridge} -j DROP")
    for n in nets:
        b = n.bridge
        flt.append(f"-A {fwd} -o {b} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
        flt.append(f"-A {fwd} -i {b} -o {b} -j {'ACCEPT' if n.icc else 'DROP'}")
        if n.internal:
            flt.append(f"-A {fwd} -i {b} ! -o {b} -j DROP")
            flt.append(f"-A {fwd} ! -i {b} -o {b} -j DROP")
            continue
        for p in n.ports:
            flt.append(
                f"-A {fwd} -d {p.ip}/32 ! -i {b} -o {b} -p {p.proto} -m {p.proto} "
                f"--dport {p.container_port} -j ACCEPT"
            )
        flt.append(f"-A {fwd} -i {b} ! -o {b} -j ACCEPT")
        flt.append(f"-A {fwd} -o {b} -j DROP")
    return "\n".join([*nat, "COMMIT", *flt, "COMMIT", ""])


def _iptables(*args: str, check: bool = True) -> bool:
    p = subprocess.run(["iptables", "-w", *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise SystemError_(f"iptables {' '.join(args)} failed: {p.stderr.strip()}")
    return p.returncode == 0


class Firewall:
    """Applies the rendered rule set; installs and removes the jumps to it."""

    def __init__(self, tag: str, enabled: bool = True) -> None:
        self.tag = tag
        self.enabled = enabled
        self.installed = False
        self.applied = ""

    def apply(self, nets: list[NetRules]) -> None:
        if not self.enabled:
            return
        text = render(self.tag, nets)
        if text == self.applied and self.installed:
            return  # unchanged (most starts): no exec
        p = subprocess.run(
            ["iptables-restore", "-w", "--noflush"], input=text, capture_output=True, text=True
        )
        if p.returncode != 0:
            raise SystemError_(f"iptables-restore failed: {p.stderr.strip()}")
        if not self.installed:
            for table, chain, rule in jumps(self.tag):
                if not _iptables("-t", table, "-C", chain, *rule, check=False):
                    _iptables("-t", table, "-I", chain, "1", *rule)
            self.installed = True
        self.applied = text

    def remove(self) -> None:
        """Jumps deleted, chains flushed and deleted: nothing of this daemon stays."""
        if not self.enabled:
            return
        for table, chain, rule in jumps(self.tag):
            while _iptables("-t", table, "-D", chain, *rule, check=False):
                pass
        dnat, post, fwd = chains(self.tag)
        for table, ch in (("nat", dnat), ("nat", post), ("filter", fwd)):
            _iptables("-t", table, "-F", ch, check=False)
            _iptables("-t", table, "-X", ch, check=False)
        self.installed = False
        self.applied = ""
