"""The network service: Docker's networks (bridge, host, none, user-defined bridges)
and the container service's NetworkAttacher.

It owns the network records and endpoints (one JSON state file under
data-root/network, rewritten atomically, so IP allocations survive a restart),
the per-container network namespaces (exec-root/netns/<id>), the bridges and
veth pairs (network/links.py), the firewall chains (network/firewall.py) and
the embedded DNS servers (network/dns.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import json
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dockyard.api.errors import Conflict, Forbidden, InvalidParameter, NotFound
from dockyard.api.filters import labels_match, match
from dockyard.daemon.paths import DaemonPaths
from dockyard.daemon.services import ipv6, reclaim
from dockyard.daemon.services.container_model import Container, SandboxInfo
from dockyard.daemon.services.container_spec import host_resolv_conf
from dockyard.daemon.services.endpoint_settings import (
    endpoint_settings,
    link_local_commands,
    needs_own_interface,
    with_container_mac,
)
from dockyard.daemon.services.events import EventBus
from dockyard.daemon.services.netpool import Sandbox, SandboxPool
from dockyard.fsutil import JsonFiles, write_json_atomic
from dockyard.monitor import jsonlog
from dockyard.network import dns, firewall, ipam, links, netns, ports

log = logging.getLogger("dockyard.networks")

PREDEFINED = ("bridge", "host", "none")
BRIDGE_NAME_OPT = "com.docker.network.bridge.name"


@dataclass
class Options:
    bridge: str = "dockyard0"
    bip: str = "172.17.0.1/16"
    pools: tuple[tuple[str, int], ...] = (("172.18.0.0/16", 16), ("192.168.0.0/16", 20))
    iptables: bool = True
    ip_forward: bool = True
    mtu: int = 1500
    dns_forward: bool = True
    warm_sandboxes: int = 2  # default-bridge sandboxes made ahead (netpool.py)
    fixed_cidr_v6: str = ""  # the default bridge's IPv6 subnet (`--ipv6 --fixed-cidr-v6`)


class NetworkNotFound(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"network {ref} not found")


class NetworkService:
    def __init__(self, paths: DaemonPaths, events: EventBus, opts: Options) -> None:
        self.resolvers: list[Callable[[str, str], list[str]]] = []  # swarm's names
        # a container's networks less the swarm's overlays (daemon/services/overlay_attach.py)
        self.local_part: Callable[[str, str, dict[str, Any]], tuple[str, dict[str, Any]]] = (
            lambda cid, mode, eps: (mode, eps))  # fmt: skip
        self.paths = paths
        self.events = events
        self.opts = opts
        self.dir = paths.networks_root
        self.netns_dir = paths.netns_root
        self.state_file = os.path.join(self.dir, "state.json")
        self.nets: dict[str, dict[str, Any]] = {}
        # endpoints[cid][net_id] = {"ip","mac","veth","ifname","aliases","ports"}
        self.endpoints: dict[str, dict[str, dict[str, Any]]] = {}
        self.fw = firewall.Firewall(opts.bridge, opts.iptables)
        self.dns: dict[str, dns.Server] = {}
        self.names: dict[str, tuple[str, str]] = {}  # cid -> (name, hostname)
        self.lock = asyncio.Lock()
        self.files = JsonFiles()  # per-container endpoint configs, read by every `ps`
        self.pool = SandboxPool(
            self.netns_dir,
            lambda: self.get("bridge"),
            lambda: self._ips_on(self.get("bridge")["Id"]),
            self.lock,
            opts.mtu,
            opts.warm_sandboxes,
        )

    def _ips_on(self, nid: str, key: str = "ip") -> list[str]:
        return [
            ep.get(key, "") for per in self.endpoints.values() for k, ep in per.items() if k == nid
        ]

    # ---- state ----------------------------------------------------------------------
    def _save(self, durable: bool = False) -> None:
        """Networks and endpoints; durable (fsync'd) when a network is made or
        removed, not on each attach and detach (see fsutil)."""
        write_json_atomic(
            self.state_file, {"networks": self.nets, "endpoints": self.endpoints}, durable
        )

    def _load(self) -> None:
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        try:
            with open(self.state_file) as f:
                st = json.load(f)
            self.nets = st.get("networks", {})
            self.endpoints = st.get("endpoints", {})
        except FileNotFoundError:
            pass

    def _record(
        self, name: str, driver: str, subnet: str = "", gateway: str = "", **kw: Any
    ) -> dict[str, Any]:
        nid = secrets.token_hex(32)
        config = [{"Subnet": subnet, "Gateway": gateway}] if subnet else []
        if kw.get("ip_range") and config:
            config[0]["IPRange"] = kw["ip_range"]
        if kw.get("aux") and config:
            config[0]["AuxiliaryAddresses"] = kw["aux"]
        return {
            "Name": name,
            "Id": nid,
            "Created": jsonlog.rfc3339_nano(),
            "Scope": "local",
            "Driver": driver,
            "EnableIPv4": True,
            "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": kw.get("ipam_options"), "Config": config},
            "Internal": bool(kw.get("internal")),
            "Attachable": bool(kw.get("attachable")),
            "Ingress": False,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": False,
            "Options": kw.get("options") or {},
            "Labels": kw.get("labels") or {},
            "_bridge": kw.get("bridge", ""),
        }

    async def start(self) -> None:
        """Load networks; make the predefined ones and every bridge; rules from endpoints."""
        self._load()
        os.makedirs(self.netns_dir, mode=0o700, exist_ok=True)
        await asyncio.to_thread(self.pool.clean_leftovers)
        by_name = {n["Name"]: n for n in self.nets.values()}
        gw = ipaddress.IPv4Interface(self.opts.bip)
        subnet = str(gw.network)
        if "bridge" not in by_name:
            rec = self._record(
                "bridge",
                "bridge",
                subnet,
                str(gw.ip),
                bridge=self.opts.bridge,
                options={
                    "com.docker.network.bridge.default_bridge": "true",
                    "com.docker.network.bridge.enable_icc": "true",
                    "com.docker.network.bridge.enable_ip_masquerade": "true",
                    "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                    BRIDGE_NAME_OPT: self.opts.bridge,
                    "com.docker.network.driver.mtu": str(self.opts.mtu),
                },
            )
            self.nets[rec["Id"]] = rec
        else:
            rec = by_name["bridge"]
            rec["_bridge"] = self.opts.bridge
            rec["IPAM"]["Config"] = [{"Subnet": subnet, "Gateway": str(gw.ip)}]
        ipv6.set_default_bridge(rec, self.opts.fixed_cidr_v6)
        for special, driver in (("host", "host"), ("none", "null")):  # dockerd's drivers
            if special in by_name:
                by_name[special]["Driver"] = driver  # a record kept by an older daemon
            else:
                r = self._record(special, driver)
                self.nets[r["Id"]] = r
        self._save()
        if self.opts.ip_forward:
            await asyncio.to_thread(links.enable_forwarding)
        for n in self.nets.values():
            if n["Driver"] == "bridge":
                await self._ensure_bridge(n)
        await self._apply_rules()

    async def _ensure_bridge(self, n: dict[str, Any]) -> None:
        cfg = n["IPAM"]["Config"][0]
        plen = ipaddress.IPv4Network(cfg["Subnet"]).prefixlen
        await asyncio.to_thread(
            links.ensure_bridge, n["_bridge"], cfg["Gateway"], plen, self.opts.mtu
        )
        if (cfg6 := ipv6.config_of(n)) is not None:
            await asyncio.to_thread(
                links.ensure_address, n["_bridge"], ipv6.gateway(cfg6),
                ipam.parse_any(cfg6["Subnet"]).prefixlen,
            )  # fmt: skip

    async def shutdown(self) -> None:
        """Rules removed; DNS closed; bridges without live endpoints deleted."""
        await self.pool.close()
        for s in self.dns.values():
            s.close()
        self.dns.clear()
        await asyncio.to_thread(self.fw.remove)
        used = {nid for eps in self.endpoints.values() for nid in eps}
        for n in self.nets.values():
            if n["Driver"] == "bridge" and n["Id"] not in used:
                await asyncio.to_thread(links.delete_bridge_if_unused, n["_bridge"])

    def _rules(self) -> list[firewall.NetRules]:
        out = []
        for n in self.nets.values():
            if n["Driver"] != "bridge":
                continue
            nr = firewall.NetRules(
                bridge=n["_bridge"],
                subnet=n["IPAM"]["Config"][0]["Subnet"],
                internal=n["Internal"],
                icc=n["Options"].get("com.docker.network.bridge.enable_icc", "true") != "false",
            )
            for eps in self.endpoints.values():
                ep = eps.get(n["Id"])
                if ep:
                    for p in ep.get("ports", []):
                        nr.ports.append(firewall.Port(p[0], p[1], p[2], ep["ip"], p[3]))
            out.append(nr)
        return out

    async def _apply_rules(self) -> None:
        await asyncio.to_thread(self.fw.apply, self._rules())

    # ---- lookup ---------------------------------------------------------------------
    def get(self, ref: str) -> dict[str, Any]:
        if ref == "default":
            ref = "bridge"
        if ref in self.nets:
            return self.nets[ref]
        for n in self.nets.values():
            if n["Name"] == ref:
                return n
        matches = [n for nid, n in self.nets.items() if ref and nid.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidParameter(f"network {ref} is ambiguous ({len(matches)} matches found)")
        raise NetworkNotFound(ref)

    def view(self, n: dict[str, Any], containers: Any = None) -> dict[str, Any]:
        out = {k: v for k, v in n.items() if not k.startswith("_")}
        eps = {}
        for cid, per in self.endpoints.items():
            ep = per.get(n["Id"])
            if ep:
                plen = ipaddress.IPv4Network(n["IPAM"]["Config"][0]["Subnet"]).prefixlen
                eps[cid] = {
                    "Name": self.names.get(cid, (cid[:12], ""))[0],
                    "EndpointID": ep["endpoint_id"],
                    "MacAddress": ep["mac"],
                    "IPv4Address": f"{ep['ip']}/{plen}",
                    "IPv6Address": ipv6.network_view_address(ep),
                }
        out["Containers"] = eps
        return out

    def list(self, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        out = []
        for n in sorted(self.nets.values(), key=lambda n: n["Created"]):
            if not self._match(n, filters):
                continue
            out.append(self.view(n))
        return out

    def _match(self, n: dict[str, Any], filters: dict[str, list[str]]) -> bool:
        for key, values in filters.items():
            if key == "name" and not match(values, n["Name"]):
                return False
            if key == "id" and not match(values, n["Id"]):
                return False
            if key == "driver" and n["Driver"] not in values:
                return False
            if key == "scope" and n.get("Scope", "local") not in values:
                return False
            if key == "type":
                kind = "builtin" if n["Name"] in PREDEFINED else "custom"
                if kind not in values:
                    return False
            if key == "label" and not labels_match(n["Labels"], filters):
                return False
            if key == "dangling":
                in_use = any(n["Id"] in per for per in self.endpoints.values())
                want = values[0] in ("true", "1")
                if want == (in_use or n["Name"] in PREDEFINED):
                    return False
        return True

    # ---- create / remove ---------------------------------------------------------------
    async def create(self, body: dict[str, Any]) -> dict[str, str]:
        name = body.get("Name") or ""
        if not name:
            raise InvalidParameter("network name is required")
        driver = body.get("Driver") or "bridge"
        if driver != "bridge":
            if driver in ("host", "null", "none"):
                raise Forbidden(f'only one instance of "{driver}" network is allowed')
            raise NotFound(f'plugin "{driver}" not found')
        if any(n["Name"] == name for n in self.nets.values()):
            raise Conflict(f"network with name {name} already exists")
        opts = dict(body.get("Options") or {})
        async with self.lock:
            used = [
                n["IPAM"]["Config"][0]["Subnet"] for n in self.nets.values() if n["IPAM"]["Config"]
            ]
            configs, configs6 = ipv6.split_configs((body.get("IPAM") or {}).get("Config") or [])
            cfg6 = (
                ipv6.pool(configs6, ipv6.subnets(self.nets.values()))
                if body.get("EnableIPv6")
                else None
            )
            cfg = configs[0] if configs else {}
            subnet = cfg.get("Subnet") or ""
            if subnet:
                subnet = str(ipam.parse_subnet(subnet))
                if ipam.overlaps(subnet, used):
                    raise Forbidden(
                        "invalid pool request: Pool overlaps with other one on this address space"
                    )
            else:
                host = await asyncio.to_thread(links.host_routes)
                for base, size in self.opts.pools:
                    for cand in ipam.split_pool(base, size):
                        if not ipam.overlaps(cand, used + host):
                            subnet = cand
                            break
                    if subnet:
                        break
                if not subnet:
                    raise Forbidden(
                        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"
                    )
            net = ipam.parse_subnet(subnet)
            gateway = cfg.get("Gateway") or str(ipam.first_host(net))
            if ipaddress.IPv4Address(gateway) not in net:
                raise InvalidParameter(f"no matching subnet for gateway {gateway}")
            ip_range = cfg.get("IPRange") or ""
            if ip_range and not ipam.parse_subnet(ip_range).subnet_of(net):
                raise InvalidParameter(f"invalid ip-range {ip_range}: not in subnet {subnet}")
            rec = self._record(
                name, "bridge", subnet, gateway, ip_range=ip_range,
                internal=body.get("Internal"), attachable=body.get("Attachable"),
                options=opts, labels=body.get("Labels") or {},
                aux=ipam.aux_addresses(cfg.get("AuxiliaryAddresses"), net),
                ipam_options=(body.get("IPAM") or {}).get("Options"),
            )  # fmt: skip
            if cfg6 is not None:
                rec["EnableIPv6"] = True
                rec["IPAM"]["Config"].append(cfg6)
            bridge = opts.get(BRIDGE_NAME_OPT) or "br-" + rec["Id"][:12]
            if len(bridge) > 15:
                raise InvalidParameter(f"bridge name {bridge} is too long")
            if any(n.get("_bridge") == bridge for n in self.nets.values()):
                raise Conflict(f"bridge name {bridge} already in use")
            rec["_bridge"] = bridge
            self.nets[rec["Id"]] = rec
            try:
                await self._ensure_bridge(rec)
                await self._apply_rules()
            except BaseException:
                self.nets.pop(rec["Id"], None)
                await asyncio.to_thread(links.delete_link, bridge)
                raise
            self._save(durable=True)
        self.events.publish("network", "create", rec["Id"], {"name": name, "type": "bridge"})
        return {"Id": rec["Id"], "Warning": ""}

    async def remove(self, ref: str) -> None:
        n = self.get(ref)
        if n["Name"] in PREDEFINED:
            raise Forbidden(f"{n['Name']} is a pre-defined network and cannot be removed")
        users = [cid for cid, per in self.endpoints.items() if n["Id"] in per]
        if users:
            raise Forbidden(
                f"error while removing network: network {n['Name']} id {n['Id']} has active endpoints"
            )
        async with self.lock:
            self.nets.pop(n["Id"], None)
            self._save(durable=True)
            await self._apply_rules()
            await asyncio.to_thread(links.delete_link, n["_bridge"])
        self.events.publish("network", "destroy", n["Id"], {"name": n["Name"], "type": "bridge"})

    async def prune(self, filters: dict[str, list[str]]) -> list[str]:
        gone = []
        for n in list(self.nets.values()):
            if n["Name"] in PREDEFINED or any(n["Id"] in p for p in self.endpoints.values()):
                continue
            if not self._match(n, {k: v for k, v in filters.items() if k == "label"}):
                continue
            await self.remove(n["Id"])
            gone.append(n["Name"])
        return gone

    # ---- the container seam ---------------------------------------------------------------
    containers: Any = None  # the ContainerService (lookups for container:<name>, connect)

    def netns_path(self, cid: str) -> str:
        return os.path.join(self.netns_dir, cid[:32])

    def _config_file(self, cid: str) -> str:
        return self.paths.etc_file(cid, "networking.json")

    def _detached(self, cid: str) -> set[str]:
        """Ids of primary networks (NetworkMode's) the container was disconnected from:
        Docker keeps NetworkMode as it was and tracks the attachment apart."""
        return set(self.files.read(self.paths.etc_file(cid, "networks-detached.json"), None) or [])

    def _set_detached(self, cid: str, ids: set[str]) -> None:
        self.files.write(self.paths.etc_file(cid, "networks-detached.json"), sorted(ids))

    def endpoint_configs(self, cid: str) -> dict[str, Any]:
        return dict(self.files.read(self._config_file(cid), None) or {})

    def created(self, c: Container, networking: dict[str, Any] | None) -> None:
        """At container create: check the endpoint configs, keep them. A network that
        does not exist is refused at start (404 "network X not found"), as dockerd
        does: a 404 at create makes the docker CLI say "Unable to find image" and pull."""
        mode = c.host_config.get("NetworkMode") or "default"
        eps = dict((networking or {}).get("EndpointsConfig") or {})
        if mode.startswith("container:"):
            if eps:
                raise InvalidParameter(
                    "conflicting options: container type network can't be used with links. This would result in undefined behavior"
                )
            with contextlib.suppress(NotFound):  # dockerd creates it; start says "No such"
                other = self.containers.get(mode.split(":", 1)[1])
                c.host_config["NetworkMode"] = f"container:{other.id}"  # it keeps the id
        elif mode not in ("host", "none"):
            for ref, cfg in eps.items():
                try:
                    n = self.get(ref)
                except NetworkNotFound:
                    continue
                if n["Name"] == "bridge" and (
                    (cfg or {}).get("Aliases") or (cfg or {}).get("IPAMConfig")
                ):
                    raise InvalidParameter(
                        "user specified IP address is supported on user defined networks only"
                        if (cfg or {}).get("IPAMConfig")
                        else "network-scoped alias is supported only for containers in user defined networks"
                    )
        self.files.write(self._config_file(c.id), eps)

    def _wanted(self, c: Container) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        mode, eps = self.local_part(c.id, c.host_config.get("NetworkMode") or "default",
                                    self.endpoint_configs(c.id))  # fmt: skip
        primary = self.get("bridge" if mode == "default" else mode)
        if primary["Id"] in self._detached(c.id):
            return [(n, cfg or {}) for n, cfg in ((self.get(r), v) for r, v in eps.items())
                    if n["Id"] != primary["Id"]]  # fmt: skip
        out = [(primary, {})]
        for ref, cfg in eps.items():
            n = self.get(ref)
            if n["Id"] == primary["Id"]:
                out[0] = (n, cfg or {})
            else:
                out.append((n, cfg or {}))
        out[0] = (out[0][0], with_container_mac(c.config, out[0][1]))
        return out

    async def attach(self, c: Container) -> SandboxInfo:
        mode = c.host_config.get("NetworkMode") or "default"
        hc = c.host_config
        hostname = c.config.get("Hostname") or c.id[:12]
        self.names[c.id] = (c.name.lstrip("/"), hostname)
        if mode == "host":
            return SandboxInfo(
                netns="host", hosts=self._extra_hosts(hc, ""), resolv_conf=self._resolv(hc, False)
            )
        if mode == "none":
            return SandboxInfo(netns=None, hosts=(), resolv_conf=self._resolv(hc, False))
        if mode.startswith("container:"):
            other = self.containers.get(mode.split(":", 1)[1])
            if not other.running:
                raise Conflict(f"cannot join network of a non running container: {other.id}")
            path, shared = self.netns_path(other.id), other.config.get("Hostname")
            if not os.path.exists(path):  # host or none: the host's, or its own empty one
                host = other.host_config.get("NetworkMode") == "host"
                path = "host" if host else f"/proc/{int(other.state.get('Pid') or 0)}/ns/net"
                return SandboxInfo(netns=path, hostname=shared)
            return SandboxInfo(
                netns=path,
                hosts=tuple(self._hosts_for(other.id)),
                resolv_conf=self._resolv(other.host_config, self._user_net(other.id)),
                hostname=shared,
            )
        path = self.netns_path(c.id)
        async with self.lock:
            wanted = self._wanted(c)
            warm = self._warm(wanted)
            if os.path.exists(path):
                await asyncio.to_thread(netns.remove, path)
            if warm is not None:
                try:
                    await asyncio.to_thread(self.pool.adopt, warm, path)
                except OSError as exc:
                    log.warning("warm sandbox not adopted: %s", exc)
                    self.pool.release(warm)
                    warm = None
            if warm is None:
                await asyncio.to_thread(netns.create, path)
            dns_task: asyncio.Future[None] | None = None
            try:
                if any(n["Name"] != "bridge" for n, _ in wanted):
                    # the DNS sockets need only the namespace: bind them meanwhile
                    dns_task = asyncio.ensure_future(self._start_dns(c.id))
                for i, (n, cfg) in enumerate(wanted):
                    if i == 0 and warm is not None:
                        self._join_warm(c, n, cfg, warm)
                    else:
                        await self._join(c, n, cfg, path, i, primary=(i == 0))
                await self._apply_rules()
                self._save()
                if dns_task is not None:
                    await dns_task
            except BaseException:
                if dns_task is not None:
                    await asyncio.gather(dns_task, return_exceptions=True)
                await self._teardown(c.id)
                raise
        return SandboxInfo(
            netns=path,
            hosts=tuple(self._hosts_for(c.id)),
            resolv_conf=self._resolv(hc, self._user_net(c.id)),
        )

    def _user_net(self, cid: str) -> bool:
        return any(
            self.nets[nid]["Name"] != "bridge"
            for nid in self.endpoints.get(cid, {})
            if nid in self.nets
        )

    def _hosts_for(self, cid: str) -> list[str]:
        eps = self.endpoints.get(cid, {})
        hostname = self.names.get(cid, ("", cid[:12]))[1]
        lines = [f"{ep['ip']}\t{hostname}" for ep in eps.values()][:1]
        gw = next(iter(eps.values()))["gateway"] if eps else ""
        c = self.containers.containers.get(cid) if self.containers else None
        return lines + list(self._extra_hosts(c.host_config if c else {}, gw))

    def _extra_hosts(self, hc: dict[str, Any], gateway: str) -> tuple[str, ...]:
        out = []
        for entry in hc.get("ExtraHosts") or []:
            name, sep, ip = entry.partition(":")
            if not sep:
                name, _, ip = entry.partition("=")
            if ip == "host-gateway":
                ip = gateway or str(ipaddress.IPv4Interface(self.opts.bip).ip)
            out.append(f"{ip}\t{name}")
        return tuple(out)

    def _resolv(self, hc: dict[str, Any], embedded: bool) -> str:
        host = host_resolv_conf().splitlines()
        search = [ln for ln in host if ln.startswith("search")]
        options = [ln for ln in host if ln.startswith("options")]
        if embedded:
            servers = ["nameserver 127.0.0.11"]
            options = [" ".join(["options", "ndots:0", *(o.split()[1:])]) for o in options] or [
                "options ndots:0"
            ]
        elif hc.get("Dns"):
            servers = [f"nameserver {d}" for d in hc["Dns"]]
        else:
            servers = [ln for ln in host if ln.startswith("nameserver")]
        if hc.get("DnsSearch"):
            search = ["search " + " ".join(hc["DnsSearch"])]
        if hc.get("DnsOptions"):
            options = ["options " + " ".join(hc["DnsOptions"])]
        return "\n".join(servers + search + options) + "\n"

    async def _join(
        self,
        c: Container,
        n: dict[str, Any],
        cfg: dict[str, Any],
        path: str,
        index: int,
        primary: bool,
    ) -> None:
        if n["Driver"] != "bridge":
            raise Forbidden(f"container cannot be connected to network {n['Name']}")
        sub = n["IPAM"]["Config"][0]
        used = self._ips_on(n["Id"]) + list((sub.get("AuxiliaryAddresses") or {}).values())
        if n["Name"] == "bridge":
            used += self.pool.ips
        want = ((cfg.get("IPAMConfig") or {}).get("IPv4Address")) or None
        ip = ipam.allocate(sub["Subnet"], sub["Gateway"], used, sub.get("IPRange"), want)
        plen = ipaddress.IPv4Network(sub["Subnet"]).prefixlen
        digest = hashlib.sha256((c.id + n["Id"]).encode()).hexdigest()
        veth = "veth" + digest[:7]
        ifname = f"eth{index}"
        mac = cfg.get("MacAddress") or ipam.mac_for(ip)
        ep = {
            "ip": ip,
            "mac": mac,
            "veth": veth,
            "ifname": ifname,
            "gateway": sub["Gateway"],
            "endpoint_id": digest,
            "aliases": list(cfg.get("Aliases") or []),
            "ports": [],
            **ipv6.endpoint(n, cfg, self._ips_on(n["Id"], "ip6"), mac),
        }
        if primary:
            ep["ports"] = self._bind_ports(c)
        await asyncio.to_thread(links.add_veth, veth, ifname, path, n["_bridge"], self.opts.mtu)
        cmds = [
            f"link set {ifname} address {ep['mac']}",
            f"addr add {ip}/{plen} dev {ifname}",
            *link_local_commands(cfg, ifname),
            f"link set {ifname} up",
        ]
        if primary and not n["Internal"]:
            cmds.append(f"route add default via {sub['Gateway']} dev {ifname}")
        cmds += ipv6.commands(ep, ifname, default_route=primary and not n["Internal"])
        self.endpoints.setdefault(c.id, {})[n["Id"]] = ep
        v6_on = [ifname, "lo"] if ep.get("ip6") else None
        await asyncio.to_thread(netns.run_ip, path, cmds, v6_on)

    def _warm(self, wanted: list[tuple[dict[str, Any], dict[str, Any]]]) -> Sandbox | None:
        """A warm sandbox when the container goes on the default bridge alone with
        an address of IPAM's choosing (the common `docker run`)."""
        if len(wanted) != 1 or wanted[0][0]["Name"] != "bridge":
            return None
        if ipv6.config_of(wanted[0][0]) is not None:
            return None
        if needs_own_interface(wanted[0][1]):
            return None
        return self.pool.take()

    def _join_warm(self, c: Container, n: dict[str, Any], cfg: dict[str, Any], sb: Sandbox) -> None:
        # The endpoint first: if a port cannot be had, the teardown unplugs it.
        self.pool.release(sb)  # its address is the endpoint's now
        ep = self.endpoints.setdefault(c.id, {})[n["Id"]] = {
            "ip": sb.ip,
            "mac": sb.mac,
            "veth": sb.veth,
            "ifname": "eth0",
            "gateway": n["IPAM"]["Config"][0]["Gateway"],
            "endpoint_id": hashlib.sha256((c.id + n["Id"]).encode()).hexdigest(),
            "aliases": list(cfg.get("Aliases") or []),
            "ports": [],
        }
        ep["ports"] = self._bind_ports(c)

    def _bind_ports(self, c: Container) -> list[list[Any]]:
        hc = c.host_config
        reqs = ports.requested(
            hc.get("PortBindings"), c.config.get("ExposedPorts"), bool(hc.get("PublishAllPorts"))
        )
        taken = {
            (p[0], p[2])
            for per in self.endpoints.values()
            for ep in per.values()
            for p in ep.get("ports", [])
        }
        out: list[list[Any]] = []
        for cport, proto, hip, lo, hi in reqs:
            avoid = {p for pr, p in taken if pr == proto}
            if lo and lo == hi:
                if (proto, lo) in taken:
                    raise Forbidden(
                        f"driver failed programming external connectivity on endpoint {c.name.lstrip('/')} "
                        f"({c.id}): Bind for {hip or '0.0.0.0'}:{lo} failed: port is already allocated"
                    )
                ports.check_listening(proto, hip, lo)
                hport = lo
            else:
                hport = ports.free_port(proto, hip, lo, hi, avoid)
            taken.add((proto, hport))
            out.append([proto, hip, hport, cport])
        return out

    async def _start_dns(self, cid: str) -> None:
        srv = dns.Server(lambda name, cid=cid: self.resolve(cid, name), self._upstreams(cid))
        try:
            await srv.start(self.netns_path(cid))
        except OSError as exc:
            log.warning("embedded DNS for %s not started: %s", cid[:12], exc)
            return
        self.dns[cid] = srv

    def _upstreams(self, cid: str) -> list[str]:
        """Where names that are not containers' go: the container's --dns, else the
        host's non-loopback resolvers; none when forwarding is off (tests)."""
        if not self.opts.dns_forward:
            return []
        c = self.containers.containers.get(cid) if self.containers else None
        servers = list((c.host_config.get("Dns") or []) if c else [])
        if not servers:
            for line in host_resolv_conf().splitlines():
                parts = line.split()
                if parts[:1] == ["nameserver"] and len(parts) > 1 and "." in parts[1]:
                    servers.append(parts[1])
        return servers

    def resolve(self, cid: str, name: str) -> list[str]:
        """Addresses for `name` as seen from container cid: its user networks only."""
        name = name.lower()
        c = self.containers.containers.get(cid) if self.containers else None
        for link in (c.host_config.get("Links") or []) if c else []:
            # --link other[:alias] (the API may carry "/other:/me/alias")
            target, _, alias = link.partition(":")
            alias = alias.rsplit("/", 1)[-1] or target
            if name == alias.lower().lstrip("/"):
                name = target.lstrip("/").lower()
                break
        mine = [
            nid
            for nid in self.endpoints.get(cid, {})
            if self.nets.get(nid, {}).get("Name") != "bridge"
        ]
        out: list[str] = []
        for nid in mine:
            netname = self.nets[nid]["Name"].lower()
            for other, per in self.endpoints.items():
                ep = per.get(nid)
                if not ep:
                    continue
                cname = self.names.get(other, ("", ""))[0].lower()
                names = {cname, other, other[:12], *(a.lower() for a in ep.get("aliases", []))}
                names |= {f"{x}.{netname}" for x in list(names) if x}
                if name in names and ep["ip"] not in out:
                    out.append(ep["ip"])
        return out or [ip for more in self.resolvers for ip in more(cid, name)]

    async def detach(self, c: Container) -> None:
        async with self.lock:
            await self._teardown(c.id)
            await self._apply_rules()
            self._save()

    async def _teardown(self, cid: str) -> None:
        srv = self.dns.pop(cid, None)
        if srv is not None:
            srv.close()
        eps = self.endpoints.pop(cid, {})
        path = self.netns_path(cid)

        def teardown() -> None:
            for ep in eps.values():
                links.unplug(ep["veth"])
            if os.path.exists(path):
                netns.remove(path)  # and the veth pairs with it

        await asyncio.to_thread(teardown)

    async def restore(self) -> None:
        """After the container service restored: drop endpoints of containers that are
        gone, restart DNS for running ones (their namespaces survived the daemon)."""
        for cid in list(self.endpoints):
            c = self.containers.containers.get(cid)
            if c is None or not c.running or not os.path.exists(self.netns_path(cid)):
                await self._teardown(cid)
                continue
            self.names[cid] = (c.name.lstrip("/"), c.config.get("Hostname") or cid[:12])
            if self._user_net(cid):
                await self._start_dns(cid)
        for c in self.containers.containers.values():
            self.names.setdefault(c.id, (c.name.lstrip("/"), c.config.get("Hostname") or c.id[:12]))
        async with self.lock:  # restarts may be filling the warm pool: its veths are its own
            await asyncio.to_thread(
                reclaim.network_leftovers, self.netns_dir,
                {c.id[:32] for c in self.containers.containers.values() if c.running},
                [n["_bridge"] for n in self.nets.values() if n["Driver"] == "bridge"],
                {ep["veth"] for per in self.endpoints.values() for ep in per.values()}
                | self.pool.veths(),
            )  # fmt: skip
        self._save()
        await self._apply_rules()

    # ---- connect / disconnect -----------------------------------------------------------------
    async def connect(self, ref: str, body: dict[str, Any]) -> None:
        n = self.get(ref)
        c = self.containers.get(body.get("Container") or "")
        cfg = body.get("EndpointConfig") or {}
        mode = c.host_config.get("NetworkMode") or "default"
        if mode in ("host", "none") or mode.startswith("container:") or n["Driver"] != "bridge":
            raise Forbidden(
                "container cannot be disconnected from host network or connected to host network"
            )
        if n["Name"] == "bridge" and (cfg.get("Aliases") or cfg.get("IPAMConfig")):
            raise Forbidden(
                "network-scoped alias is supported only for containers in user defined networks"
            )
        eps = self.endpoint_configs(c.id)
        detached = self._detached(c.id)
        attached = (
            n["Id"] in self.endpoints.get(c.id, {})
            if c.running
            else any(w["Id"] == n["Id"] for w, _ in self._wanted(c))
        )
        if attached:
            raise Forbidden(
                f"endpoint with name {c.name.lstrip('/')} already exists in network {n['Name']}"
            )
        if c.running:
            async with self.lock:
                live = self.endpoints.get(c.id, {}).values()
                index = 1 + max((int(ep["ifname"][3:]) for ep in live), default=-1)
                await self._join(c, n, cfg, self.netns_path(c.id), index, primary=not live)
                await self._apply_rules()
                self._save()
            if c.id not in self.dns and self._user_net(c.id):
                await self._start_dns(c.id)
        eps[n["Name"]] = cfg
        self.files.write(self._config_file(c.id), eps)
        if n["Id"] in detached:
            self._set_detached(c.id, detached - {n["Id"]})
        self.events.publish(
            "network", "connect", n["Id"], {"container": c.id, "name": n["Name"], "type": "bridge"}
        )

    async def disconnect(self, ref: str, body: dict[str, Any]) -> None:
        n = self.get(ref)
        c = self.containers.get(body.get("Container") or "")
        eps = self.endpoint_configs(c.id)
        live = self.endpoints.get(c.id, {})
        if c.running:
            if n["Id"] not in live:
                raise Forbidden(f"container {c.id} is not connected to network {n['Name']}")
            async with self.lock:
                ep = live.pop(n["Id"])
                await asyncio.to_thread(links.delete_link, ep["veth"])
                await self._apply_rules()
                self._save()
        eps = {k: v for k, v in eps.items() if self.get(k)["Id"] != n["Id"]}
        self.files.write(self._config_file(c.id), eps)
        mode = c.host_config.get("NetworkMode") or "default"
        if self.get("bridge" if mode == "default" else mode)["Id"] == n["Id"]:
            self._set_detached(c.id, self._detached(c.id) | {n["Id"]})
        self.events.publish(
            "network",
            "disconnect",
            n["Id"],
            {"container": c.id, "name": n["Name"], "type": "bridge"},
        )

    # ---- views for container inspect / ps ------------------------------------------------------
    def settings(self, c: Container) -> dict[str, Any]:
        live = self.endpoints.get(c.id, {}) if c.running else {}
        mode = c.host_config.get("NetworkMode") or "default"
        nets: dict[str, Any] = {}
        bindings: list[ports.Binding] = []
        names = []
        if mode in ("host", "none"):
            names = [(self.get(mode), {})]
        elif not mode.startswith("container:"):
            with contextlib.suppress(NotFound):
                names = self._wanted(c)
        for n, cfg in names:
            ep = live.get(n["Id"])
            plen = (
                ipaddress.IPv4Network(n["IPAM"]["Config"][0]["Subnet"]).prefixlen
                if n["IPAM"]["Config"]
                else 0
            )
            nets[n["Name"]] = endpoint_settings(c, n, cfg, ep, plen)
            if ep:
                bindings += [ports.Binding(p[0], p[3], p[1], p[2]) for p in ep.get("ports", [])]
        first = next(iter(nets.values()), {}) if mode == "default" or mode == "bridge" else {}
        return {
            "Bridge": "",
            "SandboxID": hashlib.sha256(c.id.encode()).hexdigest() if live else "",
            "SandboxKey": self.netns_path(c.id) if live else "",
            "Ports": ports.ports_view(bindings, c.config.get("ExposedPorts")) if c.running else {},
            "HairpinMode": False,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "Gateway": first.get("Gateway", ""),
            "IPAddress": first.get("IPAddress", ""),
            "IPPrefixLen": first.get("IPPrefixLen", 0),
            "MacAddress": first.get("MacAddress", ""),
            **{k: first.get(k, empty) for k, empty in ipv6.settings(None).items()},
            "Networks": nets,
        }

    def ps_ports(
        self, c: Container, settings: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """`ps`'s Ports, from `settings(c)` (given when the caller has it)."""
        out = []
        for key, binds in (settings or self.settings(c))["Ports"].items():
            port, _, proto = key.partition("/")
            if not binds:
                out.append({"PrivatePort": int(port), "Type": proto})
            for b in binds or []:
                out.append(
                    {
                        "IP": b["HostIp"],
                        "PrivatePort": int(port),
                        "PublicPort": int(b["HostPort"]),
                        "Type": proto,
                    }
                )
        return out


def options_from_flags(args: Any) -> Options:
    """The daemon's network flags (--bridge, --bip, --default-address-pool, ...)."""
    pools: list[tuple[str, int]] = []
    for spec in args.default_address_pool or []:
        kv = dict(part.split("=", 1) for part in spec.split(",") if "=" in part)
        if "base" not in kv:
            raise SystemExit(f"dockyardd: invalid --default-address-pool {spec!r}")
        pools.append((kv["base"], int(kv.get("size", 24))))
    fixed_cidr_v6 = ipv6.fixed_cidr(
        getattr(args, "ipv6", False), getattr(args, "fixed_cidr_v6", "")
    )
    return Options(
        bridge=args.bridge,
        bip=args.bip,
        pools=tuple(pools) or Options.pools,
        iptables=args.iptables == "true",
        ip_forward=args.ip_forward == "true",
        mtu=args.mtu,
        dns_forward=getattr(args, "dns_forward", "true") == "true",
        # warm sandboxes are IPv4-only: a dual-stack default bridge makes its own
        warm_sandboxes=0 if fixed_cidr_v6 else Options.warm_sandboxes,
        fixed_cidr_v6=fixed_cidr_v6,
    )
