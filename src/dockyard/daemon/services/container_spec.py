"""A container's OCI spec for one start, assembled from its record, its mounted
rootfs (users and groups come from the image's /etc/passwd and /etc/group), what
the network side decided (`SandboxInfo`) and the volume mounts; and the
/etc/hostname, /etc/hosts and /etc/resolv.conf files bound into it. The spec
fields themselves are `ocispec`'s; this module is the container service's caller
of it, apart from the life cycle so that it can be read (and replaced) alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.api.errors import SystemError_
from dockyard.daemon.paths import DaemonPaths
from dockyard.daemon.services import ocispec, shared_ns
from dockyard.daemon.services.container_model import Container, SandboxInfo
from dockyard.rootpath import open_in_root


def read_in_root(root: str, rel: str) -> str:
    """A small text file from the container's rootfs, never following links out of it."""
    try:
        with open_in_root(root, rel) as f:
            return f.read(1 << 20).decode("utf-8", "replace")
    except (FileNotFoundError, NotADirectoryError):
        return ""


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
    security: ocispec.SecurityDefaults,
    init_binary: str | None,
    lookup: Callable[[str], Container],
) -> dict[str, Any]:
    """The spec of one start of `c` (writes its /etc files; chowns a remapped rootfs)."""
    cfg, hc = c.config, c.host_config
    for req in hc.get("DeviceRequests") or []:  # `--gpus`: no device driver here
        caps = " ".join("[" + " ".join(c) + "]" for c in req.get("Capabilities") or [])
        raise SystemError_(
            f'could not select device driver "{req.get("Driver") or ""}" '
            f"with capabilities: [{caps}]"
        )
    user = ocispec.resolve_user(
        cfg.get("User") or "0",
        read_in_root(rootfs, "etc/passwd"),
        read_in_root(rootfs, "etc/group"),
    )
    hostname = sandbox.hostname or cfg.get("Hostname") or c.id[:12]
    etc = write_etc_files(paths, c, hostname, sandbox)
    extra_mounts = [
        {"destination": dest, "type": "bind", "source": src,
         "options": ["rbind", "rprivate"]}
        for dest, src in etc
    ]  # fmt: skip
    args = [c.path, *c.args]
    if hc.get("Init") and init_binary:
        extra_mounts.append(
            {"destination": "/sbin/docker-init", "type": "bind", "source": init_binary,
             "options": ["rbind", "ro", "nosuid", "nodev"]}
        )  # fmt: skip
        args = ["/sbin/docker-init", "--", *args]
    spec = ocispec.build_spec(
        args=args,
        env=ocispec.process_env(cfg, hostname, bool(cfg.get("Tty")), sandbox.env),
        cwd=cfg.get("WorkingDir") or "/",
        user=user,
        hostname=hostname,
        domainname=cfg.get("Domainname") or "",
        rootfs=rootfs,
        tty=bool(cfg.get("Tty")),
        read_only=bool(hc.get("ReadonlyRootfs")),
        extra_mounts=extra_mounts,
        cgroups_path=f"/dockyard/{c.id}",
        privileged=bool(hc.get("Privileged")),
        cap_add=hc.get("CapAdd") or [],
        cap_drop=hc.get("CapDrop") or [],
    )
    ocispec.apply_host_config(spec, hc, security)
    shared_ns.join_at_start(spec, hc, c.id, lookup, paths.shm)
    if spec["linux"].get("uidMappings") and security.userns_remap:
        ocispec.remap_rootfs_ownership(
            rootfs,
            security.userns_remap,
            tops=[paths.exec_root, paths.data_root],
            sources=[src for _, src in etc],
        )
    spec["mounts"].extend(volume_mounts)
    console = hc.get("ConsoleSize") or [0, 0]
    if cfg.get("Tty") and len(console) == 2 and console[0] and console[1]:
        # The client's window from the start; resizes follow (`docker run -it`).
        spec["process"]["consoleSize"] = {"height": console[0], "width": console[1]}
    namespaces = spec["linux"]["namespaces"]
    if sandbox.netns == "host":
        spec["linux"]["namespaces"] = [n for n in namespaces if n["type"] != "network"]
    elif sandbox.netns:
        for n in namespaces:
            if n["type"] == "network":
                n["path"] = sandbox.netns
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
