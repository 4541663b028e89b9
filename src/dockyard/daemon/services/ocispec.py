"""Docker's container semantics turned into an OCI runtime spec (pure, no I/O).

What moby's `oci_linux.go` and `daemon/create` do: merge the image config
with the create request (Cmd/Entrypoint/Env/WorkingDir rules), resolve the
user against the container's passwd/group files, and build config.json with
Docker's default mounts, capabilities, masked and read-only paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dockyard.api.errors import InvalidParameter

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
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
    ]  # fmt: skip


def merge_config(user: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    """The create request's Config merged with the image's (moby's `merge`)."""
    cfg = dict(user)
    env = list(image.get("Env") or [])
    for item in user.get("Env") or []:
        env = replace_or_append_env(env, item)
    cfg["Env"] = env
    if not user.get("Entrypoint"):
        if not user.get("Cmd"):
            cfg["Cmd"] = image.get("Cmd")
        if user.get("Entrypoint") is None:
            cfg["Entrypoint"] = image.get("Entrypoint")
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


def replace_or_append_env(env: list[str], item: str) -> list[str]:
    key = item.split("=", 1)[0]
    out = [e for e in env if e.split("=", 1)[0] != key]
    if "=" not in item:
        return out  # `-e NAME` without a value and without the var set: dropped
    if len(out) == len(env):
        return [*env, item]
    return [item if e.split("=", 1)[0] == key else e for e in env]


def process_env(cfg: dict[str, Any], hostname: str, tty: bool) -> list[str]:
    env = [DEFAULT_PATH, f"HOSTNAME={hostname}"]
    if tty:
        env.append("TERM=xterm")
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
) -> dict[str, Any]:
    caps = _capabilities(privileged, cap_add or [], cap_drop or [])
    return {
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
    return ["CAP_" + n for n in names[: last + 1]]


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
