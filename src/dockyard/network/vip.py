"""Load balancing for service virtual IPs and the routing mesh, as nftables rule sets.

This kernel has no IPVS (`ip_vs`), which is what dockerd's swarm mode needs; nftables'
NAT does the same job on any kernel with nf_tables: a `dnat to numgen inc mod N map
{0: ip0, 1: ip1, ...}` rule picks a backend for the first packet of a connection and
conntrack keeps the rest of that connection (TCP and UDP) on it, so changing the map
never moves an established connection, while new ones only see the current backends.
`inc` is round robin per rule, as dockerd's IPVS services (scheduler `rr`) are per
node and per task: N connections in a row from one client reach N different tasks
(`random` left a task of three unreached by 15 requests in 1 of ~150 tries).

Three places, each one table `dockyard_mesh` (ip family) written whole in one `nft -f`
transaction (add, delete, define: atomic, so a half-written set is never live):
  - a task's namespace (as dockerd puts IPVS in each container's namespace): output
    DNAT of each VIP on the task's overlay networks to that service's tasks; a VIP
    with no backend answers a TCP reset (a refused connection, not a timeout);
  - the ingress sandbox: prerouting DNAT of a published port to the service's tasks
    on the ingress network (and the target port), masquerade out of the overlay so
    replies come back through the sandbox;
  - the node: prerouting and output DNAT of each published port on the node's own
    addresses to the ingress sandbox.
Rendering is pure text; `apply` execs nft (inside a namespace with nsenter, as
network/overlay.py does: the daemon never changes its own namespace).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from dockyard.api.errors import SystemError_

TABLE = "dockyard_mesh"


@dataclass(frozen=True)
class Balanced:
    """Traffic to `vip` (a task's view) or to `port` (ingress), spread over `backends`."""

    backends: tuple[str, ...]
    vip: str = ""
    proto: str = "tcp"
    port: int = 0  # published port (ingress)
    target: int = 0  # the tasks' port (ingress)


def _pick(backends: tuple[str, ...]) -> str:
    if len(backends) == 1:
        return backends[0]
    entries = ", ".join(f"{i} : {ip}" for i, ip in enumerate(backends))
    return f"numgen inc mod {len(backends)} map {{ {entries} }}"


def _table(chains: list[str]) -> str:
    return (
        f"add table ip {TABLE}\ndelete table ip {TABLE}\ntable ip {TABLE} {{\n"
        + "\n".join(chains)
        + "\n}\n"
    )


def _chain(name: str, hook: str, rules: list[str], kind: str = "nat") -> str:
    prio = "0" if kind == "filter" else ("100" if hook == "postrouting" else "-100")
    body = "".join(f"    {r}\n" for r in rules)
    return f"  chain {name} {{\n    type {kind} hook {hook} priority {prio}; policy accept;\n{body}  }}"


def render_task(vips: list[Balanced]) -> str:
    """A task namespace's table: each VIP of its networks to the service's tasks."""
    nat = [f"ip daddr {b.vip} dnat to {_pick(b.backends)}" for b in vips if b.backends]
    refuse = [f"ip daddr {b.vip} meta l4proto tcp reject with tcp reset" for b in vips
              if not b.backends]  # fmt: skip
    refuse += [f"ip daddr {b.vip} reject" for b in vips if not b.backends]
    return _table([_chain("vips", "output", nat), _chain("refuse", "output", refuse, "filter")])


def render_ingress_sandbox(ports: list[Balanced], ingress_if: str) -> str:
    """The ingress sandbox's table: published ports to the tasks' ingress addresses."""
    nat = [f"{b.proto} dport {b.port} dnat to {_pick(b.backends)}:{b.target}"
           for b in ports if b.backends]  # fmt: skip
    refuse = [f"tcp dport {b.port} reject with tcp reset" for b in ports
              if not b.backends and b.proto == "tcp"]  # fmt: skip
    return _table([
        _chain("published", "prerouting", nat),
        _chain("out", "postrouting", [f'oifname "{ingress_if}" masquerade']),
        _chain("refuse", "input", refuse, "filter"),
    ])  # fmt: skip


def render_node(ports: list[Balanced], sandbox_ip: str) -> str:
    """The node's table: a published port on any of its addresses to the ingress sandbox."""
    rules = [f"fib daddr type local {b.proto} dport {b.port} dnat to {sandbox_ip}" for b in ports]
    return _table([_chain("published", "prerouting", rules), _chain("local", "output", rules)])


def apply(text: str, ns: str | None = None) -> None:
    """One nft transaction, in namespace `ns` (a path) or this process's."""
    cmd = ["nft", "-f", "-"]
    if ns:
        cmd = ["nsenter", f"--net={ns}", *cmd]
    p = subprocess.run(cmd, input=text, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemError_(f"service load balancing: {p.stderr.strip()}")


def remove(ns: str | None = None) -> None:
    """The table goes (absent is fine)."""
    apply(f"add table ip {TABLE}\ndelete table ip {TABLE}\n", ns)
