"""A container's OCI spec for one start, assembled from its record, its mounted
rootfs (users and groups come from the image's /etc/passwd and /etc/group), what
the network side decided (`SandboxInfo`) and the volume mounts; and the
/etc/hostname, /etc/hosts and /etc/resolv.conf files bound into it. The spec is
`spec_builder`'s pure function of inputs `spec_host` reads from the host; this
module is the container service's caller of both, apart from the life cycle so
that it can be read (and replaced) alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.daemon.paths import DaemonPaths
from dockyard.daemon.services import shared_ns, spec_builder, spec_host
from dockyard.daemon.services.container_model import Container, SandboxInfo
from dockyard.daemon.services.spec_inputs import SecurityDefaults, SpecMounts


def host_resolv_conf() -> str:
    """The host's /etc/resolv.conf without loopback name servers (unreachable from
    a container's own network namespace), Google's when none is left (as dockerd)."""
    try:
        with open("/etc/resolv.conf") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    kept = []
    for line in lines:
        parts = line.split()
        if parts and parts[0] == "nameserver" and len(parts) > 1:
            if parts[1].startswith("127.") or parts[1] == "::1":
                continue
        kept.append(line)
    if not any(line.split()[:1] == ["nameserver"] for line in kept if line.split()):
        kept += ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
    return "\n".join(kept) + "\n"


def container_spec(
    c: Container,
    rootfs: str,
    sandbox: SandboxInfo,
    volume_mounts: list[dict[str, Any]],
    *,
    paths: DaemonPaths,
    security: SecurityDefaults,
    init_binary: str | None,
    lookup: Callable[[str], Container],
) -> dict[str, Any]:
    """The spec of one start of `c` (writes its /etc files; chowns a remapped rootfs)."""
    hc = c.host_config
    host = spec_host.gather(c.config, hc, rootfs)
    etc = write_etc_files(paths, c, spec_builder.spec_hostname(c.config, sandbox, c.id), sandbox)
    spec = spec_builder.build_spec(
        cid=c.id,
        command=[c.path, *c.args],
        config=c.config,
        host_config=hc,
        rootfs=rootfs,
        sandbox=sandbox,
        mounts=SpecMounts(tuple(etc), init_binary, tuple(volume_mounts)),
        host=host,
        joins=shared_ns.resolve_at_start(hc, c.id, lookup, paths.shm),
        defaults=security,
    )
    if spec["linux"].get("uidMappings") and security.userns_remap:
        spec_host.remap_rootfs_ownership(
            rootfs,
            security.userns_remap,
            tops=[paths.exec_root, paths.data_root],
            sources=[src for _, src in etc],
        )
    return spec


def write_etc_files(
    paths: DaemonPaths, c: Container, hostname: str, sandbox: SandboxInfo
) -> list[tuple[str, str]]:
    """/etc/hostname, /etc/hosts and /etc/resolv.conf of one start: (in-container, host path)."""
    hosts = (
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
        "ff02::2\tip6-allrouters\n"
    )
    hosts += "".join(line + "\n" for line in sandbox.hosts)
    files = {
        "hostname": hostname + "\n",
        "hosts": hosts,
        "resolv.conf": sandbox.resolv_conf or host_resolv_conf(),
    }
    out = []
    for name, content in files.items():
        path = paths.etc_file(c.id, name)
        with open(path, "w") as f:
            f.write(content)
        out.append((f"/etc/{name}", path))
    return out
