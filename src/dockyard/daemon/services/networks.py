"""The network service: Docker's networks (bridge, host, none, user-defined bridges)
and the container service's NetworkAttacher.

It owns the network records and endpoints (one JSON state file under
data-root/network, rewritten atomically, so IP allocations survive a restart), the
per-container network namespaces (exec-root/netns/<id>), and the life cycle of
networks and endpoints: create and remove, attach at start and detach at exit,
connect and disconnect, the embedded DNS servers (network/dns.py). Its parts, each in
its module: records, inspect and list shaping (net_records), subnets and addresses
(net_ipam), bridges, veths and firewall chains (bridge_driver), published ports
(net_ports), hosts and resolv.conf (net_resolv).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from dockyard.api.errors import Conflict, Forbidden, InvalidParameter, NotFound
from dockyard.daemon.paths import DaemonPaths
from dockyard.daemon.services import ipv6, net_ipam, net_records, net_resolv, reclaim
from dockyard.daemon.services.bridge_driver import BridgeDriver
from dockyard.daemon.services.container_model import Container, SandboxInfo
from dockyard.daemon.services.endpoint_settings import (
    needs_own_interface,
    network_settings,
    refuse_connect,
    refuse_on_default_bridge,
    with_container_mac,
)
from dockyard.daemon.services.events import EventBus
from dockyard.daemon.services.net_ports import bind_ports, ps_ports
from dockyard.daemon.services.net_records import (
    BRIDGE_NAME_OPT,
    PREDEFINED,
    NetworkNotFound,
    Options,
    options_from_flags,
)
from dockyard.daemon.services.netpool import Sandbox, SandboxPool
from dockyard.fsutil import JsonFiles, write_json_atomic
from dockyard.network import dns, ipam, links, netns

__all__ = ["NetworkNotFound", "NetworkService", "Options", "options_from_flags"]

log = logging.getLogger("dockyard.networks")


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
        self.driver = BridgeDriver(opts.bridge, opts.iptables, opts.mtu)
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
        return [per[nid].get(key, "") for per in self.endpoints.values() if nid in per]

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

    async def start(self) -> None:
        """Load networks; make the predefined ones and every bridge; rules from endpoints."""
        self._load()
        os.makedirs(self.netns_dir, mode=0o700, exist_ok=True)
        await asyncio.to_thread(self.pool.clean_leftovers)
        by_name = {n["Name"]: n for n in self.nets.values()}
        gw = ipaddress.IPv4Interface(self.opts.bip)
        subnet = str(gw.network)
        if "bridge" not in by_name:
            rec = net_records.new_record(
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
                r = net_records.new_record(special, driver)
                self.nets[r["Id"]] = r
        self._save()
        if self.opts.ip_forward:
            await asyncio.to_thread(links.enable_forwarding)
        for n in self.nets.values():
            if n["Driver"] == "bridge":
                await asyncio.to_thread(self.driver.ensure_bridge, n)
        await self._apply_rules()

    async def shutdown(self) -> None:
        """Rules removed; DNS closed; bridges without live endpoints deleted."""
        await self.pool.close()
        for s in self.dns.values():
            s.close()
        self.dns.clear()
        await asyncio.to_thread(self.driver.shutdown, list(self.nets.values()), self.endpoints)

    async def _apply_rules(self) -> None:
        await asyncio.to_thread(self.driver.apply_rules, list(self.nets.values()), self.endpoints)

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
        return net_records.view(n, self.endpoints, self.names)

    def list(self, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        nets = sorted(self.nets.values(), key=lambda n: n["Created"])
        return [self.view(n) for n in nets if self.matches(n, filters)]

    def matches(self, n: dict[str, Any], filters: dict[str, list[str]]) -> bool:
        return net_records.matches(n, filters, self.endpoints)

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
            host = [] if cfg.get("Subnet") else await asyncio.to_thread(links.host_routes)
            pool = net_ipam.requested_pool(cfg, used, self.opts.pools, host)
            rec = net_records.new_record(
                name, "bridge", pool.subnet, pool.gateway, ip_range=pool.ip_range,
                internal=body.get("Internal"), attachable=body.get("Attachable"),
                options=opts, labels=body.get("Labels") or {}, aux=pool.aux,
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
                await asyncio.to_thread(self.driver.ensure_bridge, rec)
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
        if net_records.in_use(n, self.endpoints):
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
            if n["Name"] in PREDEFINED or net_records.in_use(n, self.endpoints):
                continue
            if not self.matches(n, {k: v for k, v in filters.items() if k == "label"}):
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
                if n["Name"] == "bridge":
                    refuse_on_default_bridge(cfg or {})
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
                netns="host",
                hosts=net_resolv.extra_hosts(hc, "", self.opts.bip),
                resolv_conf=net_resolv.resolv_conf(hc, False),
            )
        if mode == "none":
            return SandboxInfo(netns=None, hosts=(), resolv_conf=net_resolv.resolv_conf(hc, False))
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
                resolv_conf=net_resolv.resolv_conf(other.host_config, self._user_net(other.id)),
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
            resolv_conf=net_resolv.resolv_conf(hc, self._user_net(c.id)),
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
        return lines + list(net_resolv.extra_hosts(c.host_config if c else {}, gw, self.opts.bip))

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
        warm = self.pool.ips if n["Name"] == "bridge" else set()  # warm sandboxes' addresses
        taken = [*self._ips_on(n["Id"]), *warm]
        ip = net_ipam.endpoint_address(n, cfg, taken)
        digest = hashlib.sha256((c.id + n["Id"]).encode()).hexdigest()
        mac = cfg.get("MacAddress") or ipam.mac_for(ip)
        ep = {
            "ip": ip,
            "mac": mac,
            "veth": "veth" + digest[:7],
            "ifname": f"eth{index}",
            "gateway": n["IPAM"]["Config"][0]["Gateway"],
            "endpoint_id": digest,
            "aliases": list(cfg.get("Aliases") or []),
            "ports": [],
            **ipv6.endpoint(n, cfg, self._ips_on(n["Id"], "ip6"), mac),
        }
        if primary:
            ep["ports"] = bind_ports(c, self.endpoints)
        await asyncio.to_thread(self.driver.plug, n, ep, path)
        self.endpoints.setdefault(c.id, {})[n["Id"]] = ep
        await asyncio.to_thread(self.driver.configure, n, ep, cfg, path, primary)

    def _warm(self, wanted: list[tuple[dict[str, Any], dict[str, Any]]]) -> Sandbox | None:
        """A warm sandbox when the container goes on the default bridge alone with
        an address of IPAM's choosing (the common `docker run`)."""
        if len(wanted) != 1 or wanted[0][0]["Name"] != "bridge":
            return None
        if ipv6.config_of(wanted[0][0]) is not None or needs_own_interface(wanted[0][1]):
            return None  # (warm sandboxes are IPv4-only)
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
        ep["ports"] = bind_ports(c, self.endpoints)

    async def _start_dns(self, cid: str) -> None:
        c = self.containers.containers.get(cid) if self.containers else None
        upstreams = net_resolv.upstreams(c.host_config if c else None, self.opts.dns_forward)
        srv = dns.Server(lambda name, cid=cid: self.resolve(cid, name), upstreams)
        try:
            await srv.start(self.netns_path(cid))
        except OSError as exc:
            log.warning("embedded DNS for %s not started: %s", cid[:12], exc)
            return
        self.dns[cid] = srv

    def resolve(self, cid: str, name: str) -> list[str]:
        """Addresses for `name` as seen from container cid: its user networks only,
        then the swarm's names (``resolvers``)."""
        c = self.containers.containers.get(cid) if self.containers else None
        name = net_resolv.link_target(name, (c.host_config.get("Links") or []) if c else [])
        found = net_resolv.resolve(cid, name, self.nets, self.endpoints, self.names)
        return found or [ip for more in self.resolvers for ip in more(cid, name)]

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
        await asyncio.to_thread(self.driver.unplug, list(eps.values()), self.netns_path(cid))

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
        refuse_connect(c.host_config.get("NetworkMode") or "default", n, cfg)
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
        """inspect's NetworkSettings (the endpoints asked for, live ones when running)."""
        live = self.endpoints.get(c.id, {}) if c.running else {}
        mode = c.host_config.get("NetworkMode") or "default"
        wanted: list[tuple[dict[str, Any], dict[str, Any]]] = []
        if mode in ("host", "none"):
            wanted = [(self.get(mode), {})]
        elif not mode.startswith("container:"):
            with contextlib.suppress(NotFound):
                wanted = self._wanted(c)
        return network_settings(c, wanted, live, self.netns_path(c.id))

    def ps_ports(
        self, c: Container, settings: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """`ps`'s Ports, from `settings(c)` (given when the caller has it)."""
        return ps_ports(settings or self.settings(c))
