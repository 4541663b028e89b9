"""HostConfig's rules: its options parsed (ulimits, security options, device cgroup
rules, cpusets), what dockerd refuses at create (its wording), the defaults it records
so that inspect shows them, and linux.resources for create and `update`.

Pure but for two reads of the host (the cpusets available, whether cgroup v2 is
mounted): the checks must answer against the machine the container will run on.
"""

from __future__ import annotations

import os
from typing import Any

from dockyard.api.errors import InvalidParameter
from dockyard.daemon.services.ocispec import MASKED_PATHS, READONLY_PATHS
from dockyard.daemon.services.spec_inputs import SecurityDefaults

DEFAULT_SHM_SIZE = 64 << 20
ULIMITS = {
    "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
    "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE",
    "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC",
    "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME",
    "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK", "as": "RLIMIT_AS",
}  # fmt: skip
# Namespaced sysctls Docker lets a container set (moby's ValidateSysctl).
_IPC_SYSCTLS = {
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
    "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}  # fmt: skip
MIN_MEMORY = 6 * 1024 * 1024


def parse_ulimit(text: str) -> tuple[str, int, int]:
    """`name=soft[:hard]` (dockerd's --default-ulimit, docker's --ulimit)."""
    name, sep, values = text.partition("=")
    if not sep or name not in ULIMITS:
        raise InvalidParameter(f"invalid ulimit type: {name}")
    soft_s, _, hard_s = values.partition(":")
    try:
        soft = int(soft_s)
        hard = int(hard_s) if hard_s else soft
    except ValueError:
        raise InvalidParameter(f"invalid ulimit argument: {text}") from None
    if soft > hard:
        raise InvalidParameter(
            f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )
    return name, soft, hard


def security_options(opts: list[str]) -> dict[str, Any]:
    """`--security-opt` values: no-new-privileges, seccomp, apparmor, label, systempaths."""
    out: dict[str, Any] = {}
    for opt in opts:
        if opt == "no-new-privileges":
            out["no_new_privileges"] = True
            continue
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")
        if not sep:
            raise InvalidParameter(f'invalid --security-opt 1: "{opt}"')
        if key == "no-new-privileges":
            if value not in ("true", "false", "1", "0"):
                raise InvalidParameter(f'invalid --security-opt 2: "{opt}"')
            out["no_new_privileges"] = value in ("true", "1")
        elif key == "seccomp":
            out["seccomp"] = value
        elif key == "systempaths":
            out["unmask_paths"] = value == "unconfined"
        elif key in ("apparmor", "label"):
            out[key] = value  # no such LSM on this kernel: accepted, as dockerd does
        else:
            raise InvalidParameter(f'invalid --security-opt 2: "{opt}"')
    return out


def device_rule(kind: str, major: int | None, minor: int | None, access: str) -> dict:
    rule: dict[str, Any] = {"allow": True, "type": kind, "access": access}
    if major is not None:
        rule["major"] = major
    if minor is not None:
        rule["minor"] = minor
    return rule


def parse_device_cgroup_rule(text: str) -> dict[str, Any]:
    """`--device-cgroup-rule 'c 1:3 mr'`."""
    parts = text.split()
    try:
        kind, numbers, access = parts
        major_s, minor_s = numbers.split(":")
        if kind not in ("a", "b", "c") or not access or set(access) - set("rwm"):
            raise ValueError
        major = None if major_s == "*" else int(major_s)
        minor = None if minor_s == "*" else int(minor_s)
    except ValueError:
        raise InvalidParameter(f"invalid device cgroup format '{text}'") from None
    return device_rule(kind, major, minor, access)


def check_userns_conflicts(hc: dict[str, Any], defaults: SecurityDefaults) -> None:
    """With the daemon's user-namespace remapping in force (no ``--userns=host``), what
    dockerd refuses (moby's verifyPlatformContainerSettings, its wording)."""
    if not defaults.userns_remap or hc.get("UsernsMode") == "host":
        return
    if hc.get("Privileged"):
        raise InvalidParameter(
            "privileged mode is incompatible with user namespaces.  You must run the "
            "container in the host namespace when running privileged mode"
        )
    if hc.get("NetworkMode") == "host":
        raise InvalidParameter(
            "cannot share the host's network namespace when user namespaces are enabled"
        )
    if hc.get("PidMode") == "host":
        raise InvalidParameter(
            "cannot share the host PID namespace when user namespaces are enabled"
        )


def fill_host_config(hc: dict[str, Any], runtime: str) -> None:
    """The defaults dockerd records at create, so that inspect shows them."""
    if not hc.get("ShmSize"):
        hc["ShmSize"] = DEFAULT_SHM_SIZE
    if not hc.get("Runtime"):
        hc["Runtime"] = runtime
    if not hc.get("IpcMode"):
        hc["IpcMode"] = "private"
    if not hc.get("CgroupnsMode"):
        hc["CgroupnsMode"] = (
            "private" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "host"
        )
    if not hc.get("Privileged"):
        if hc.get("MaskedPaths") is None:
            hc["MaskedPaths"] = list(MASKED_PATHS)
        if hc.get("ReadonlyPaths") is None:
            hc["ReadonlyPaths"] = list(READONLY_PATHS)


def check_restart_policy(policy: dict[str, Any]) -> None:
    """A restart policy from a client, at create and at update (moby's
    ValidateRestartPolicy, in its wording since API 1.44)."""
    name, retries = policy.get("Name") or "", int(policy.get("MaximumRetryCount") or 0)
    if name not in ("", "no", "always", "unless-stopped", "on-failure"):
        raise InvalidParameter(
            f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', "
            "'on-failure', or 'unless-stopped'"
        )
    if retries and name != "on-failure":
        raise InvalidParameter(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"
        )
    if retries < 0:
        raise InvalidParameter("invalid restart policy: maximum retry count cannot be negative")


def validate_host_config(hc: dict[str, Any], defaults: SecurityDefaults | None = None) -> None:
    """What dockerd refuses at create time, with its wording."""
    if defaults is not None:
        check_userns_conflicts(hc, defaults)
    check_restart_policy(hc.get("RestartPolicy") or {})
    if hc.get("CgroupnsMode") not in (None, "", "host", "private"):
        raise InvalidParameter(f"invalid cgroup namespace mode: {hc['CgroupnsMode']}")
    memory = hc.get("Memory") or 0
    if memory and memory < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    swap = hc.get("MemorySwap") or 0
    if swap > 0 and not memory:
        raise InvalidParameter(
            "You should always set the Memory limit when using Memoryswap limit, see usage."
        )
    if swap > 0 and swap < memory:
        raise InvalidParameter(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    reservation = hc.get("MemoryReservation") or 0
    if memory and reservation and memory < reservation:
        raise InvalidParameter(
            "Minimum memory limit can not be less than memory reservation limit, see usage"
        )
    if hc.get("NanoCpus") and (hc.get("CpuQuota") or hc.get("CpuPeriod")):
        raise InvalidParameter(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set"
            if hc.get("CpuPeriod")
            else "Conflicting options: Nano CPUs and CPU Quota cannot both be set"
        )
    nano = hc.get("NanoCpus") or 0
    ncpu = os.cpu_count() or 1
    if nano < 0 or nano > ncpu * 10**9:
        raise InvalidParameter(
            f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )
    score = hc.get("OomScoreAdj") or 0
    if not -1000 <= score <= 1000:
        raise InvalidParameter(f"Invalid value {score}, range for oom score adj is [-1000, 1000]")
    for key, kind in (("CpusetCpus", "CPUs"), ("CpusetMems", "MEMs")):
        if hc.get(key):
            _check_cpuset(hc[key], kind)
    if hc.get("ShmSize") and hc["ShmSize"] < 0:
        raise InvalidParameter("SHM size can not be less than 0")
    security_options(hc.get("SecurityOpt") or [])
    for u in hc.get("Ulimits") or []:
        if u.get("Name") not in ULIMITS:
            raise InvalidParameter(f"invalid ulimit type: {u.get('Name')}")
    for key in hc.get("Sysctls") or {}:
        _check_sysctl(key, hc)


def parse_cpuset(text: str) -> set[int]:
    """`0-2,4` as a set of numbers (the cpuset list format)."""
    out: set[int] = set()
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError(part)
        out.update(range(int(lo), int(hi if sep else lo) + 1))
    return out


def _check_cpuset(text: str, kind: str) -> None:
    try:
        wanted = parse_cpuset(text)
    except ValueError:
        raise InvalidParameter(f"Invalid value {text} for cpuset {kind.lower()}") from None
    name = "cpus" if kind == "CPUs" else "mems"
    try:
        with open(f"/sys/fs/cgroup/cpuset/cpuset.{name}") as f:
            available_text = f.read().strip()
    except OSError:
        try:
            with open(f"/sys/fs/cgroup/cpuset.{name}.effective") as f:
                available_text = f.read().strip()
        except OSError:
            return
    if not wanted <= parse_cpuset(available_text):
        raise InvalidParameter(
            f"Requested {kind} are not available - requested {text}, available: {available_text}"
        )


def _check_sysctl(key: str, hc: dict[str, Any]) -> None:
    if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
        if hc.get("IpcMode") == "host":
            raise InvalidParameter(f"sysctl {key!r} is not allowed in host IPC namespace")
        return
    if key.startswith("net."):
        if hc.get("NetworkMode") == "host":
            raise InvalidParameter(f"sysctl {key!r} is not allowed in host network namespace")
        return
    raise InvalidParameter(f"sysctl {key!r} is not whitelisted")


def _mem(value: Any) -> int | None:
    return int(value) if value else None


def resources(hc: dict[str, Any]) -> dict[str, Any]:
    """linux.resources from HostConfig (memory, CPU, pids, blkio), as moby's oci_linux."""
    out: dict[str, Any] = {}
    memory: dict[str, Any] = {}
    if _mem(hc.get("Memory")):
        memory["limit"] = int(hc["Memory"])
    if hc.get("MemorySwap"):
        memory["swap"] = int(hc["MemorySwap"])  # -1: unlimited
    elif memory.get("limit"):
        memory["swap"] = memory["limit"] * 2  # docker's default: as much swap as memory
    if _mem(hc.get("MemoryReservation")):
        memory["reservation"] = int(hc["MemoryReservation"])
    swappiness = hc.get("MemorySwappiness")
    if swappiness is not None and swappiness >= 0:
        memory["swappiness"] = int(swappiness)
    if hc.get("OomKillDisable"):
        memory["disableOOMKiller"] = True
    if memory:
        out["memory"] = memory
    cpu: dict[str, Any] = {}
    if hc.get("CpuShares"):
        cpu["shares"] = int(hc["CpuShares"])
    if hc.get("NanoCpus"):
        cpu["period"] = 100000
        cpu["quota"] = int(hc["NanoCpus"]) * 100000 // 10**9
    if hc.get("CpuQuota"):
        cpu["quota"] = int(hc["CpuQuota"])
    if hc.get("CpuPeriod"):
        cpu["period"] = int(hc["CpuPeriod"])
    if hc.get("CpusetCpus"):
        cpu["cpus"] = hc["CpusetCpus"]
    if hc.get("CpusetMems"):
        cpu["mems"] = hc["CpusetMems"]
    if cpu:
        out["cpu"] = cpu
    limit = hc.get("PidsLimit")
    if limit is not None and limit != 0:
        out["pids"] = {"limit": int(limit) if limit > 0 else -1}
    if hc.get("BlkioWeight"):
        out["blockIO"] = {"weight": int(hc["BlkioWeight"])}
    return out
