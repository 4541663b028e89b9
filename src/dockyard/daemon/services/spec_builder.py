"""A container's OCI runtime spec (config.json), built in one pass by one pure function.

`build_spec` takes the container's Config (the image's merged in at create, see
`ocispec.merge_config`) and HostConfig, what the network decided (`Sandbox`), the mounts
of this start, what the host said (`HostFacts`, from `spec_host.gather`), the namespaces
joined from other containers (`Joins`) and the daemon's flags, and returns the spec as
moby's `oci_linux.go` would make it: process, root, mounts, namespaces, resources,
devices, masked and read-only paths, sysctls, rlimits, seccomp and no-new-privileges.
No I/O and no input edited: the same inputs always give the same spec.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from dockyard.api.errors import InvalidParameter, SystemError_
from dockyard.daemon.services import hostconfig
from dockyard.daemon.services.ocispec import (
    DEFAULT_DEVICE_RULES,
    MASKED_PATHS,
    READONLY_PATHS,
    capabilities,
    default_mounts,
    process_env,
)
from dockyard.daemon.services.spec_inputs import (
    HostDevice,
    HostFacts,
    Joins,
    Sandbox,
    SecurityDefaults,
    SpecMounts,
)
from dockyard.runtime.seccomp_profile import ProfileError, parse, to_oci

__all__ = ["build_spec", "spec_hostname"]

Json = dict[str, Any]


def spec_hostname(config: Json, sandbox: Sandbox, cid: str) -> str:
    """The network's choice (another container's network), else the container's own."""
    return sandbox.hostname or config.get("Hostname") or cid[:12]


def build_spec(
    *,
    cid: str,
    command: Sequence[str],
    config: Json,
    host_config: Json,
    rootfs: str,
    sandbox: Sandbox,
    mounts: SpecMounts,
    host: HostFacts,
    joins: Joins,
    defaults: SecurityDefaults,
) -> Json:
    """The OCI spec of one start of container ``cid``; ``command``: its Path and Args."""
    hc = host_config
    _refuse_device_requests(hc)
    hostconfig.check_userns_conflicts(hc, defaults)  # (again: the daemon may have restarted)
    sec = hostconfig.security_options(hc.get("SecurityOpt") or [])
    privileged = bool(hc.get("Privileged"))
    caps = capabilities(privileged, hc.get("CapAdd") or [], hc.get("CapDrop") or [],
                        host.known_caps)  # fmt: skip
    hostname = spec_hostname(config, sandbox, cid)
    spec: Json = {
        "ociVersion": "1.1.0",
        "process": _process(
            command, config, hc, sandbox, mounts, host, caps, sec, defaults, hostname
        ),
        "root": {"path": rootfs, "readonly": bool(hc.get("ReadonlyRootfs"))},
        "mounts": _mounts(hc, mounts, joins),
        "annotations": {},
        "linux": _linux(cid, hc, sandbox, host, joins, caps, sec, defaults),
    }
    if hc.get("UTSMode") != "host":
        spec["hostname"] = hostname
    if config.get("Domainname"):  # set in the container's UTS namespace
        spec["domainname"] = config["Domainname"]
    return spec


def _refuse_device_requests(hc: Json) -> None:
    for req in hc.get("DeviceRequests") or []:  # `--gpus`: no device driver here
        caps = " ".join("[" + " ".join(c) + "]" for c in req.get("Capabilities") or [])
        raise SystemError_(
            f'could not select device driver "{req.get("Driver") or ""}" '
            f"with capabilities: [{caps}]"
        )


def _process(
    command: Sequence[str], cfg: Json, hc: Json, sandbox: Sandbox, mounts: SpecMounts,
    host: HostFacts, caps: list[str], sec: Json, defaults: SecurityDefaults, hostname: str,
) -> Json:  # fmt: skip
    tty = bool(cfg.get("Tty"))
    args = list(command)
    if hc.get("Init") and mounts.init_binary:
        args = ["/sbin/docker-init", "--", *args]
    gids = list(host.user.additional_gids)
    for g in hc.get("GroupAdd") or []:
        if str(g).isdigit() and int(g) not in gids:
            gids.append(int(g))
    process: Json = {
        "terminal": tty,
        "user": {"uid": host.user.uid, "gid": host.user.gid, "additionalGids": gids},
        "args": args,
        "env": process_env(cfg, hostname, tty, sandbox.env),
        "cwd": cfg.get("WorkingDir") or "/",
        "capabilities": {"bounding": caps, "effective": list(caps), "permitted": list(caps)},
        "noNewPrivileges": bool(sec.get("no_new_privileges")),
    }
    # rlimits: the daemon's defaults, then the container's
    limits = dict(defaults.default_ulimits)
    for u in hc.get("Ulimits") or []:
        limits[u["Name"]] = (int(u["Soft"]), int(u["Hard"]))
    if limits:
        process["rlimits"] = [
            {"type": hostconfig.ULIMITS[name], "soft": soft, "hard": hard}
            for name, (soft, hard) in sorted(limits.items())
        ]
    if hc.get("OomScoreAdj"):
        process["oomScoreAdj"] = int(hc["OomScoreAdj"])
    console = hc.get("ConsoleSize") or [0, 0]
    if tty and len(console) == 2 and console[0] and console[1]:
        # The client's window from the start; resizes follow (`docker run -it`).
        process["consoleSize"] = {"height": console[0], "width": console[1]}
    return process


def _mounts(hc: Json, mounts: SpecMounts, joins: Joins) -> list[Json]:
    """Docker's defaults (sized, made writable for --privileged, /dev/shm maybe the
    shared tmpfs), then the /etc files, docker-init and the volumes."""
    privileged, shm = bool(hc.get("Privileged")), hc.get("ShmSize")
    out = []
    for m in default_mounts():
        if m["destination"] == "/dev/shm":
            if joins.shm_source:
                m.update(type="bind", source=joins.shm_source, options=["rbind", "rprivate"])
            elif shm:
                m["options"] = [o for o in m["options"] if not o.startswith("size=")]
                m["options"].append(f"size={int(shm)}")
        if privileged and m["type"] in ("sysfs", "cgroup"):
            m["options"] = [o for o in m["options"] if o != "ro"] + ["rw"]
        out.append(m)
    out += [
        {"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rprivate"]}
        for dest, src in mounts.etc_files
    ]
    if hc.get("Init") and mounts.init_binary:
        out.append(
            {"destination": "/sbin/docker-init", "type": "bind", "source": mounts.init_binary,
             "options": ["rbind", "ro", "nosuid", "nodev"]}
        )  # fmt: skip
    out += [dict(v) for v in mounts.volumes]
    return out


def _linux(
    cid: str, hc: Json, sandbox: Sandbox, host: HostFacts, joins: Joins, caps: list[str],
    sec: Json, defaults: SecurityDefaults,
) -> Json:  # fmt: skip
    privileged = bool(hc.get("Privileged"))
    remapped = defaults.userns_remap is not None and hc.get("UsernsMode") != "host"
    linux: Json = {
        "cgroupsPath": _cgroups_path(cid, hc),
        "namespaces": _namespaces(hc, sandbox, joins, remapped),
        "maskedPaths": _paths(hc, sec, "MaskedPaths", MASKED_PATHS),
        "readonlyPaths": _paths(hc, sec, "ReadonlyPaths", READONLY_PATHS),
    }
    rules, devices = _devices(hc, host)
    linux["resources"] = {**hostconfig.resources(hc), "devices": rules}
    if devices:
        linux["devices"] = devices
    if hc.get("Sysctls"):
        linux["sysctl"] = dict(hc["Sysctls"])
    if remapped:
        assert defaults.userns_remap is not None
        uid, gid, size = defaults.userns_remap
        linux["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": size}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": size}]
    seccomp = _seccomp(privileged, sec.get("seccomp"), defaults, caps)
    if seccomp is not None:
        linux["seccomp"] = seccomp
    return linux


def _cgroups_path(cid: str, hc: Json) -> str:
    parent = hc.get("CgroupParent")
    if not parent:
        return f"/dockyard/{cid}"
    return os.path.join(parent if parent.startswith("/") else "/" + parent, cid)


def _namespaces(hc: Json, sandbox: Sandbox, joins: Joins, remapped: bool) -> list[Json]:
    """Docker's five, less those shared with the host; paths to join where another
    container's (or the network's) are used; cgroup and user when asked."""
    out: list[Json] = [{"type": "mount"}]
    if sandbox.netns != "host":
        out.append({"type": "network", **({"path": sandbox.netns} if sandbox.netns else {})})
    if hc.get("UTSMode") != "host":
        out.append({"type": "uts"})
    for kind, mode, path in (("pid", "PidMode", joins.pid), ("ipc", "IpcMode", joins.ipc)):
        if hc.get(mode) != "host":
            out.append({"type": kind, **({"path": path} if path else {})})
    if hc.get("CgroupnsMode") == "private":
        out.append({"type": "cgroup"})
    if remapped:
        out.append({"type": "user"})
    return out


def _paths(hc: Json, sec: Json, key: str, default: list[str]) -> list[str]:
    """Masked or read-only paths: none when privileged or `systempaths=unconfined`,
    else HostConfig's lists (the docker CLI sends them) or Docker's."""
    if hc.get("Privileged") or sec.get("unmask_paths"):
        return []
    return list(hc[key]) if hc.get(key) is not None else list(default)


def _devices(hc: Json, host: HostFacts) -> tuple[list[Json], list[Json]]:
    """The device cgroup rules and the device nodes: Docker's defaults (or all for
    --privileged), then --device, then --device-cgroup-rule."""
    if hc.get("Privileged"):
        rules: list[Json] = [{"allow": True, "access": "rwm"}]
        devices = [_device_entry(p, d) for p, d in host.host_devices]
    else:
        rules = [{"allow": False, "access": "rwm"}]
        rules += [hostconfig.device_rule(*r) for r in DEFAULT_DEVICE_RULES]
        devices = []
    for d in hc.get("Devices") or []:
        path = d.get("PathOnHost") or ""
        inside = d.get("PathInContainer") or path
        dev = host.devices.get(path)
        if dev is None:  # gathered from the same HostConfig: only a caller's slip
            raise InvalidParameter(f"no device information for {path!r}")
        devices = [e for e in devices if e["path"] != inside]
        devices.append(_device_entry(inside, dev))
        rules.append(hostconfig.device_rule(dev.type, dev.major, dev.minor,
                                            d.get("CgroupPermissions") or "rwm"))  # fmt: skip
    rules += [hostconfig.parse_device_cgroup_rule(t) for t in hc.get("DeviceCgroupRules") or []]
    return rules, devices


def _device_entry(path: str, dev: HostDevice) -> Json:
    return {
        "path": path, "type": dev.type, "major": dev.major, "minor": dev.minor,
        "fileMode": 0o20000 * (1 if dev.type == "c" else 3) | dev.mode,
        "uid": dev.uid, "gid": dev.gid,
    }  # fmt: skip


def _seccomp(
    privileged: bool, opt: str | None, defaults: SecurityDefaults, caps: list[str]
) -> Json | None:
    """The OCI seccomp section (last: its rules depend on the final capability set)."""
    if privileged or opt == "unconfined":
        return None
    try:
        profile = defaults.seccomp_profile if opt in (None, "", "builtin") else parse(opt)
        return to_oci(profile, caps) if profile is not None else None
    except ProfileError as e:
        raise InvalidParameter(str(e)) from None
