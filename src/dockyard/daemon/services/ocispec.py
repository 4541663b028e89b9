"""Docker's container semantics turned into an OCI runtime spec (pure, no I/O).

What moby's `oci_linux.go` and `daemon/create` do: merge the image config
with the create request (Cmd/Entrypoint/Env/WorkingDir rules), resolve the
user against the container's passwd/group files, and build config.json with
Docker's default mounts, capabilities, masked and read-only paths.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

from dockyard.api.errors import InvalidParameter
from dockyard.proto.envvars import replace_or_append_env

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

DEFAULT_CAPS = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
]

MASKED_PATHS = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
]

DEFAULT_SHM_SIZE = 64 << 20
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def default_mounts() -> list[dict[str, Any]]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
    ]  # fmt: skip


def merge_config(user: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    """The create request's Config merged with the image's (moby's `merge`)."""
    cfg = dict(user)
    # The user's list as given, then the image's variables it does not set.
    env = list(user.get("Env") or [])
    keys = {e.partition("=")[0] for e in env}
    env += [e for e in image.get("Env") or [] if e.partition("=")[0] not in keys]
    cfg["Env"] = env
    if not user.get("Entrypoint"):
        if not user.get("Cmd"):
            cfg["Cmd"] = image.get("Cmd")
        if user.get("Entrypoint") is None:
            cfg["Entrypoint"] = image.get("Entrypoint")
    if cfg.get("Entrypoint") == [""]:
        cfg["Entrypoint"] = None  # `--entrypoint ""`: the image's is reset (inspect shows null)
    for key in ("WorkingDir", "User", "StopSignal", "Healthcheck", "Shell"):
        if not cfg.get(key) and image.get(key):
            cfg[key] = image[key]
    labels = dict(image.get("Labels") or {})
    labels.update(user.get("Labels") or {})
    cfg["Labels"] = labels
    exposed = dict(image.get("ExposedPorts") or {})
    exposed.update(user.get("ExposedPorts") or {})
    if exposed:
        cfg["ExposedPorts"] = exposed
    volumes = dict(image.get("Volumes") or {})
    volumes.update(user.get("Volumes") or {})
    if volumes:
        cfg["Volumes"] = volumes
    return cfg


def command_line(cfg: dict[str, Any]) -> list[str]:
    """Entrypoint + Cmd; an entrypoint of [""] (`--entrypoint ""`) resets it."""
    entrypoint = [a for a in (cfg.get("Entrypoint") or [])]
    if entrypoint == [""]:
        entrypoint = []
    args = entrypoint + list(cfg.get("Cmd") or [])
    if not args:
        raise InvalidParameter("No command specified")
    return args


def process_env(
    cfg: dict[str, Any], hostname: str, tty: bool, linked: tuple[str, ...] = ()
) -> list[str]:
    """moby's CreateDaemonEnvironment: PATH, HOSTNAME, TERM, the legacy links'
    variables, then the container's own (which win)."""
    env = [DEFAULT_PATH, f"HOSTNAME={hostname}", *(["TERM=xterm"] if tty else []), *linked]
    for item in cfg.get("Env") or []:
        env = replace_or_append_env(env, item)
    return env


@dataclass(frozen=True)
class User:
    uid: int
    gid: int
    additional_gids: list[int] = field(default_factory=list)
    home: str = "/"


def _parse_db(text: str, fields: int) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) >= fields:
            rows.append(parts)
    return rows


def resolve_user(spec: str, passwd: str, group: str) -> User:
    """`uid`, `name`, `uid:gid`, `name:group` against the container's files."""
    users = _parse_db(passwd, 7)
    groups = _parse_db(group, 4)
    name, _, grp = (spec or "0").partition(":")
    entry = None
    if name.isdigit():
        uid = int(name)
        entry = next((u for u in users if u[2] == name), None)
        gid = int(entry[3]) if entry else 0
    else:
        entry = next((u for u in users if u[0] == name), None)
        if entry is None:
            raise InvalidParameter(
                f"unable to find user {name}: no matching entries in passwd file"
            )
        uid, gid = int(entry[2]), int(entry[3])
    if grp:
        if grp.isdigit():
            gid = int(grp)
        else:
            g = next((g for g in groups if g[0] == grp), None)
            if g is None:
                raise InvalidParameter(
                    f"unable to find group {grp}: no matching entries in group file"
                )
            gid = int(g[2])
    username = entry[0] if entry else None
    extra = []
    if username:
        for g in groups:
            members = g[3].split(",") if g[3] else []
            if username in members and int(g[2]) != gid:
                extra.append(int(g[2]))
    home = entry[5] if entry else "/"
    return User(uid, gid, extra, home)


def build_spec(
    *,
    args: list[str],
    env: list[str],
    cwd: str,
    user: User,
    hostname: str,
    rootfs: str,
    tty: bool,
    read_only: bool,
    extra_mounts: list[dict[str, Any]],
    cgroups_path: str,
    privileged: bool = False,
    cap_add: list[str] | None = None,
    cap_drop: list[str] | None = None,
    annotations: dict[str, str] | None = None,
    domainname: str = "",
) -> dict[str, Any]:
    caps = _capabilities(privileged, cap_add or [], cap_drop or [])
    spec: dict[str, Any] = {
        "ociVersion": "1.1.0",
        "process": {
            "terminal": tty,
            "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
            "args": args,
            "env": env,
            "cwd": cwd or "/",
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps,
            },
            "noNewPrivileges": False,
        },
        "root": {"path": rootfs, "readonly": read_only},
        "hostname": hostname,
        "mounts": default_mounts() + extra_mounts,
        "annotations": annotations or {},
        "linux": {
            "cgroupsPath": cgroups_path,
            "namespaces": [
                {"type": "mount"},
                {"type": "network"},
                {"type": "uts"},
                {"type": "pid"},
                {"type": "ipc"},
            ],
            "maskedPaths": [] if privileged else MASKED_PATHS,
            "readonlyPaths": [] if privileged else READONLY_PATHS,
        },
    }
    if domainname:  # Config.Domainname, set in the container's UTS namespace
        spec["domainname"] = domainname
    return spec


def _all_caps() -> list[str]:
    # Every capability this kernel knows (cap_last_cap); the names in order.
    names = [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
        "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
        "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
        "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
        "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
        "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
    ]  # fmt: skip
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except OSError:
        last = len(names) - 1
    # what the daemon itself may hand out: its bounding set (a sandboxed host may lack some)
    bounding = (1 << (last + 1)) - 1
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    bounding = int(line.split()[1], 16)
    except OSError:
        pass
    return ["CAP_" + n for i, n in enumerate(names[: last + 1]) if bounding >> i & 1]


def normalize_cap(name: str) -> str:
    n = name.strip().upper()
    if n == "ALL":
        return n
    return n if n.startswith("CAP_") else "CAP_" + n


def _capabilities(privileged: bool, add: list[str], drop: list[str]) -> list[str]:
    known = _all_caps()
    if privileged:
        return known
    adds = [normalize_cap(c) for c in add]
    drops = [normalize_cap(c) for c in drop]
    for c in adds + drops:
        if c != "ALL" and c not in known:
            raise InvalidParameter(f"unknown capability: {c!r}")
    caps = list(DEFAULT_CAPS)
    if "ALL" in drops:
        caps = []
    else:
        caps = [c for c in caps if c not in drops]
    if "ALL" in adds:
        return [c for c in known if c not in drops]
    for c in adds:
        if c not in caps:
            caps.append(c)
    return caps


# ---- HostConfig: security options and resources -----------------------------------------

#: Docker's default device cgroup: deny all, then what every container may use.
DEFAULT_DEVICE_RULES = [
    ("c", None, None, "m"),
    ("b", None, None, "m"),
    ("c", 1, 3, "rwm"),  # null
    ("c", 1, 5, "rwm"),  # zero
    ("c", 1, 7, "rwm"),  # full
    ("c", 1, 8, "rwm"),  # random
    ("c", 1, 9, "rwm"),  # urandom
    ("c", 5, 0, "rwm"),  # tty
    ("c", 5, 1, "rwm"),  # console
    ("c", 5, 2, "rwm"),  # ptmx
    ("c", 136, None, "rwm"),  # pts
    ("c", 10, 200, "rwm"),  # tun
]
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


@dataclass(frozen=True)
class SecurityDefaults:
    """The daemon-wide settings a container starts from (dockerd's flags)."""

    seccomp_profile: dict[str, Any] | None = None  # Docker format; None: unconfined
    default_ulimits: dict[str, tuple[int, int]] = field(default_factory=dict)
    userns_remap: tuple[int, int, int] | None = None  # (uid base, gid base, size)


@dataclass(frozen=True)
class HostDevice:
    """What ``stat`` says of a ``--device`` path on the host."""

    type: str  # "c" or "b"
    major: int
    minor: int
    mode: int
    uid: int
    gid: int


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


def _device_rule(kind: str, major: int | None, minor: int | None, access: str) -> dict:
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
    return _device_rule(kind, major, minor, access)


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


def validate_host_config(hc: dict[str, Any], defaults: SecurityDefaults | None = None) -> None:
    """What dockerd refuses at create time, with its wording."""
    if defaults is not None:
        check_userns_conflicts(hc, defaults)
    policy = hc.get("RestartPolicy") or {}
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


def _stat_device(path: str) -> HostDevice:
    import stat as stat_

    try:
        st = os.stat(path)
    except OSError as e:
        raise InvalidParameter(
            f"error gathering device information while adding custom device {path!r}: "
            f"{e.strerror.lower() if e.strerror else e}"
        ) from None
    if stat_.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat_.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        raise InvalidParameter(
            f"error gathering device information while adding custom device {path!r}: "
            "not a device node"
        )
    return HostDevice(
        kind, os.major(st.st_rdev), os.minor(st.st_rdev), stat_.S_IMODE(st.st_mode),
        st.st_uid, st.st_gid,
    )  # fmt: skip


def _host_devices() -> list[tuple[str, HostDevice]]:
    """Every device node under the host's /dev (what --privileged gives)."""
    found = []
    for dirpath, dirnames, filenames in os.walk("/dev"):
        dirnames[:] = [d for d in dirnames if d not in ("pts", "shm", "mqueue", "fd")]
        for name in filenames:
            path = os.path.join(dirpath, name)
            if path in ("/dev/console", "/dev/ptmx", "/dev/tty") or os.path.islink(path):
                continue
            try:
                found.append((path, _stat_device(path)))
            except InvalidParameter:
                continue
    return found


def _device_entry(path: str, dev: HostDevice) -> dict[str, Any]:
    return {
        "path": path, "type": dev.type, "major": dev.major, "minor": dev.minor,
        "fileMode": 0o20000 * (1 if dev.type == "c" else 3) | dev.mode,
        "uid": dev.uid, "gid": dev.gid,
    }  # fmt: skip


def apply_host_config(
    spec: dict[str, Any],
    hc: dict[str, Any],
    defaults: SecurityDefaults | None = None,
    stat_device=_stat_device,
    host_devices=_host_devices,
) -> dict[str, Any]:
    """Edit ``spec`` for HostConfig's security options and resources (moby's oci_linux)."""
    defaults = defaults or SecurityDefaults()
    check_userns_conflicts(hc, defaults)  # (again: the daemon may have been restarted)
    process, linux = spec["process"], spec["linux"]
    privileged = bool(hc.get("Privileged"))
    sec = security_options(hc.get("SecurityOpt") or [])
    process["noNewPrivileges"] = bool(sec.get("no_new_privileges"))
    if not privileged:
        # HostConfig's lists (the docker CLI turns `systempaths=unconfined` into empty ones)
        if hc.get("MaskedPaths") is not None:
            linux["maskedPaths"] = list(hc["MaskedPaths"])
        if hc.get("ReadonlyPaths") is not None:
            linux["readonlyPaths"] = list(hc["ReadonlyPaths"])
    if sec.get("unmask_paths"):
        linux["maskedPaths"], linux["readonlyPaths"] = [], []
    if hc.get("CgroupnsMode") == "private":
        linux["namespaces"].append({"type": "cgroup"})
    # rlimits: the daemon's defaults, then the container's
    limits = dict(defaults.default_ulimits)
    for u in hc.get("Ulimits") or []:
        limits[u["Name"]] = (int(u["Soft"]), int(u["Hard"]))
    if limits:
        process["rlimits"] = [
            {"type": ULIMITS[name], "soft": soft, "hard": hard}
            for name, (soft, hard) in sorted(limits.items())
        ]
    if hc.get("OomScoreAdj"):
        process["oomScoreAdj"] = int(hc["OomScoreAdj"])
    if hc.get("GroupAdd"):
        extra = process["user"].setdefault("additionalGids", [])
        for g in hc["GroupAdd"]:
            if str(g).isdigit() and int(g) not in extra:
                extra.append(int(g))
    if hc.get("Sysctls"):
        linux["sysctl"] = dict(hc["Sysctls"])
    shm = hc.get("ShmSize")
    for m in spec["mounts"]:
        if m["destination"] == "/dev/shm" and shm:
            m["options"] = [o for o in m["options"] if not o.startswith("size=")]
            m["options"].append(f"size={int(shm)}")
        if privileged and m["type"] in ("sysfs", "cgroup"):
            m["options"] = [o for o in m["options"] if o != "ro"] + ["rw"]
    # devices: Docker's default cgroup rules, --device, --device-cgroup-rule, --privileged
    rules: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}]
    devices: list[dict[str, Any]] = []
    if privileged:
        rules = [{"allow": True, "access": "rwm"}]
        devices = [_device_entry(p, d) for p, d in host_devices()]
    else:
        rules += [_device_rule(*r) for r in DEFAULT_DEVICE_RULES]
    for d in hc.get("Devices") or []:
        host = d.get("PathOnHost") or ""
        inside = d.get("PathInContainer") or host
        access = d.get("CgroupPermissions") or "rwm"
        dev = stat_device(host)
        devices = [e for e in devices if e["path"] != inside]
        devices.append(_device_entry(inside, dev))
        rules.append(_device_rule(dev.type, dev.major, dev.minor, access))
    for text in hc.get("DeviceCgroupRules") or []:
        rules.append(parse_device_cgroup_rule(text))
    res = resources(hc)
    res["devices"] = rules
    linux["resources"] = res
    if devices:
        linux["devices"] = devices
    # namespaces shared with the host
    drop = {
        "pid": hc.get("PidMode") == "host",
        "ipc": hc.get("IpcMode") == "host",
        "uts": hc.get("UTSMode") == "host",
    }
    linux["namespaces"] = [n for n in linux["namespaces"] if not drop.get(n["type"])]
    if drop["uts"]:
        spec.pop("hostname", None)
    if hc.get("CgroupParent"):
        parent = hc["CgroupParent"]
        linux["cgroupsPath"] = os.path.join(
            parent if parent.startswith("/") else "/" + parent,
            os.path.basename(linux["cgroupsPath"]),
        )
    # user namespace: the daemon's remapping unless --userns=host
    if defaults.userns_remap and hc.get("UsernsMode") != "host":
        uid, gid, size = defaults.userns_remap
        linux["namespaces"].append({"type": "user"})
        linux["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": size}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": size}]
    # seccomp last: its rules depend on the final capability set
    seccomp = sec.get("seccomp")
    if privileged or seccomp == "unconfined":
        linux.pop("seccomp", None)
    else:
        from dockyard.runtime.seccomp_profile import ProfileError, parse, to_oci

        if seccomp in (None, "", "builtin"):
            profile = defaults.seccomp_profile
        else:
            try:
                profile = parse(seccomp)
            except ProfileError as e:
                raise InvalidParameter(str(e)) from None
        if profile is not None:
            caps = process["capabilities"]["bounding"]
            try:
                linux["seccomp"] = to_oci(profile, caps)
            except ProfileError as e:
                raise InvalidParameter(str(e)) from None
    return spec


# ---- the daemon's flags (the only I/O here: reading a profile and /etc/subuid) -------------


def _subid_range(path: str, names: tuple[str, ...]) -> tuple[int, int]:
    with open(path) as f:
        for line in f:
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[0] in names:
                return int(parts[1]), int(parts[2])
    raise ValueError(f"no subordinate ids for {names[0]} in {path}")


def load_security_defaults(
    seccomp_profile: str | None,
    default_ulimits: list[str],
    userns_remap: str | None,
    subuid: str = "/etc/subuid",
    subgid: str = "/etc/subgid",
) -> SecurityDefaults:
    """dockerd's `--seccomp-profile`, `--default-ulimit`, `--userns-remap`."""
    from dockyard.runtime.seccomp_profile import default_profile, parse

    if seccomp_profile in (None, "", "builtin"):
        profile: dict[str, Any] | None = default_profile()
    elif seccomp_profile == "unconfined":
        profile = None
    else:
        with open(seccomp_profile) as f:
            profile = parse(f.read())
    limits = {}
    for text in default_ulimits:
        name, soft, hard = parse_ulimit(text)
        limits[name] = (soft, hard)
    remap = None
    if userns_remap:
        user, _, group = userns_remap.partition(":")
        user = "dockremap" if user == "default" else user
        group = group or user
        import grp
        import pwd

        names_u: tuple[str, ...] = (user,)
        with contextlib.suppress(KeyError, ValueError):
            names_u = (
                (user, str(pwd.getpwnam(user).pw_uid))
                if not user.isdigit()
                else (user, pwd.getpwuid(int(user)).pw_name)
            )
        names_g: tuple[str, ...] = (group,)
        with contextlib.suppress(KeyError, ValueError):
            names_g = (
                (group, str(grp.getgrnam(group).gr_gid))
                if not group.isdigit()
                else (group, grp.getgrgid(int(group)).gr_name)
            )
        uid, usize = _subid_range(subuid, names_u)
        gid, gsize = _subid_range(subgid, names_g)
        remap = (uid, gid, min(usize, gsize))
    return SecurityDefaults(profile, limits, remap)


def _make_reachable(path: str, tops: list[str]) -> None:
    """Search permission for others on every directory from ``path``'s up to its top."""
    here = os.path.dirname(os.path.abspath(path))
    top = next((t for t in map(os.path.abspath, tops) if here.startswith(t)), None)
    while top is not None and here.startswith(top):
        mode = os.stat(here).st_mode
        if not mode & 0o001:
            os.chmod(here, (mode & 0o7777) | 0o001)
        if here == top:
            break
        here = os.path.dirname(here)


def remap_rootfs_ownership(
    rootfs: str,
    remap: tuple[int, int, int],
    tops: list[str] | None = None,
    sources: list[str] | None = None,
) -> None:
    """`--userns-remap`: shift the owner of every file of a container's rootfs into the
    remapped range (chown-on-copy: overlayfs copies each file up into the container's own
    layer, the image's layers stay as they are). Done once: a root already owned by the
    remapped root is left alone. Never follows symlinks (lchown, walk without links).
    The directories from the rootfs and the bind ``sources`` up to the daemon's roots
    (``tops``) get search permission for others (not listing), so that the remapped root
    can reach them."""
    uid_base, gid_base, size = remap
    for path in [rootfs, *(sources or [])]:
        _make_reachable(path, tops or [])
    st = os.lstat(rootfs)
    if st.st_uid == uid_base and st.st_gid == gid_base:
        return

    def shift(path: str) -> None:
        s = os.lstat(path)
        uid = s.st_uid + uid_base if s.st_uid < size else s.st_uid
        gid = s.st_gid + gid_base if s.st_gid < size else s.st_gid
        mode = s.st_mode
        os.lchown(path, uid, gid)
        if not os.path.islink(path) and mode & 0o6000:
            os.chmod(path, mode & 0o7777)  # chown clears setuid/setgid bits: restore them

    for dirpath, dirnames, filenames in os.walk(rootfs, followlinks=False):
        for name in dirnames + filenames:
            shift(os.path.join(dirpath, name))
    shift(rootfs)
