"""Legacy container links (`--link NAME[:ALIAS]`) on the default bridge, as dockerd.

At create a link names an existing container (else 400 "could not get container for
NAME") and is kept in HostConfig.Links as dockerd's inspect shows it:
`/child:/parent/alias`. At start every child must be running on the default bridge;
the parent gets an /etc/hosts line (`IP\\talias hostname name`) and the variables of
moby's links.Link.ToEnv (ALIAS_PORT, ALIAS_PORT_<port>_<PROTO>[_ADDR|_PORT|_PROTO],
ALIAS_NAME, ALIAS_ENV_*; port ranges get no _START/_END here). `docker rm --link
/parent/alias` removes the link, never a container.

`LegacyLinks` wraps the network layer at the container service's seam (the network
service stays as it is); everything else is the wrapped layer's (`NetworkLayer`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from dockyard.api.errors import InvalidParameter, NoSuchContainer, SystemError_
from dockyard.daemon.services.container_model import Container, NetworkLayer, SandboxInfo
from dockyard.monitor.jsonlog import parse_rfc3339_nano as _ns

_BRIDGE_MODES = ("default", "bridge")


def parse(link: str) -> tuple[str, str]:
    """`name[:alias]` (or dockerd's own `/name:/parent/alias`) -> (name, alias)."""
    name, _, alias = link.partition(":")
    name = name.strip("/")
    return name, (alias.rstrip("/").rpartition("/")[2] or name.rpartition("/")[2])


def link_env(link_name: str, ip: str, ports: list[str], child_env: list[str]) -> list[str]:
    """moby's Link.ToEnv: `link_name` is "/parent/alias"; `ports` as "5432/tcp"."""
    alias = link_name.rpartition("/")[2].upper().replace("-", "_")

    def key(p: str) -> tuple[int, bool]:
        number, _, proto = p.partition("/")
        return int(number), (proto or "tcp").lower() != "tcp"

    out = []
    ordered = sorted(ports, key=key)
    for i, p in enumerate(ordered):
        number, _, proto = p.partition("/")
        proto = (proto or "tcp").lower()
        if i == 0:
            out.append(f"{alias}_PORT={proto}://{ip}:{number}")
        prefix = f"{alias}_PORT_{number}_{proto.upper()}"
        out += [f"{prefix}={proto}://{ip}:{number}", f"{prefix}_ADDR={ip}",
                f"{prefix}_PORT={number}", f"{prefix}_PROTO={proto}"]  # fmt: skip
    out.append(f"{alias}_NAME={link_name}")
    for item in child_env:
        k, sep, v = item.partition("=")
        if sep and k not in ("HOME", "PATH"):  # set by builds, not the child's own
            out.append(f"{alias}_ENV_{k}={v}")
    return out


@dataclasses.dataclass(eq=False)
class LegacyLinks(NetworkLayer):
    containers: Any

    def created(self, c: Container, networking: dict[str, Any] | None) -> None:
        mode = c.host_config.get("NetworkMode") or "default"
        if c.host_config.get("Links") and mode in _BRIDGE_MODES:
            kept = []
            for link in c.host_config["Links"]:
                name, alias = parse(link)
                try:
                    child = self.containers.get(name)
                except NoSuchContainer as exc:
                    raise InvalidParameter(
                        f"could not get container for {name}: {exc.message}"
                    ) from None
                kept.append(f"{child.name}:{c.name}/{alias}")
            c.host_config["Links"] = kept
        self.networks.created(c, networking)

    async def attach(self, c: Container) -> SandboxInfo:
        children = self._children(c)  # refused before the network is set up
        info = await self.networks.attach(c)
        hosts, env = [], []
        for child, link_name, ep in children:
            alias = link_name.rpartition("/")[2]
            names = [alias, child.config.get("Hostname") or child.id[:12]]
            if alias != child.name.lstrip("/"):
                names.append(child.name.lstrip("/"))
            hosts.append(f"{ep['ip']}\t{' '.join(names)}")
            ports = list(child.config.get("ExposedPorts") or {})
            env += link_env(link_name, ep["ip"], ports, child.config.get("Env") or [])
        if not children:
            return info
        return dataclasses.replace(info, hosts=info.hosts + tuple(hosts), env=info.env + tuple(env))

    def _children(self, c: Container) -> list[tuple[Container, str, dict[str, Any]]]:
        """(child, "/parent/alias", the child's default-bridge endpoint) per link."""
        if (c.host_config.get("NetworkMode") or "default") not in _BRIDGE_MODES:
            return []
        bridge = self.networks.get("bridge")["Id"]
        out = []
        for link in c.host_config.get("Links") or []:
            child_name, _, link_name = link.partition(":")
            try:
                child = self.containers.get(child_name.lstrip("/"))
            except NoSuchContainer:
                child = None
            # dockerd's link index forgets a removed child as a parent only: its parents
            # keep the link and cannot start without the child. A container made after
            # the parent under the child's name is not the child (the child existed
            # when the parent was created).
            if child is None or _ns(child.created) > _ns(c.created):
                raise SystemError_(
                    f"Cannot link to a non running container: {child_name} AS {link_name}"
                )
            if not child.running:
                raise SystemError_(
                    f"Cannot link to a non running container: {child.name} AS {link_name}"
                )
            ep = self.networks.endpoints.get(child.id, {}).get(bridge)
            if ep is None:
                raise SystemError_(
                    f"Cannot link to {child.name}, as it does not belong to the default network"
                )
            out.append((child, link_name, ep))
        return out

    def remove_link(self, name: str) -> None:
        """`DELETE /containers/{parent}/{alias}?link=1` (moby's rmLink)."""
        parent, _, _alias = ("/" + name.lstrip("/")).rpartition("/")
        if not parent:
            raise SystemError_("Conflict, cannot remove the default link name of the container")
        try:
            p = self.containers.get(parent.lstrip("/"))
        except NoSuchContainer:
            raise SystemError_(f"Cannot get parent {parent} for link name {name}") from None
        full = f"{p.name}/{_alias}"
        links = [x for x in p.host_config.get("Links") or [] if x.partition(":")[2] != full]
        p.host_config["Links"] = links or None
        self.containers.save(p)
