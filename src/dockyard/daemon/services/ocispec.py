"""Docker's container semantics as pure rules: the image config merged with the
create request (moby's `merge`: Cmd/Entrypoint/Env/WorkingDir), the process's
environment, the user resolved against passwd/group text, the capability set, and
Docker's default mounts, masked and read-only paths and device rules.

No I/O: `spec_host` reads what these rules need from the host and the rootfs, and
`spec_builder` assembles the OCI spec from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dockyard.api.errors import InvalidParameter
from dockyard.daemon.services.spec_inputs import User
from dockyard.proto.envvars import replace_or_append_env

__all__ = [
    "DEFAULT_CAPS", "DEFAULT_DEVICE_RULES", "DEFAULT_PATH", "MASKED_PATHS", "READONLY_PATHS",
    "User", "capabilities", "command_line", "default_mounts", "merge_config",
    "normalize_cap", "process_env", "resolve_user",
]  # fmt: skip

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


def normalize_cap(name: str) -> str:
    n = name.strip().upper()
    if n == "ALL":
        return n
    return n if n.startswith("CAP_") else "CAP_" + n


def capabilities(
    privileged: bool, add: Sequence[str], drop: Sequence[str], known: Sequence[str]
) -> list[str]:
    """Docker's default set with --cap-add/--cap-drop applied; ``known``: every
    capability the host may hand out (``--privileged`` gets them all)."""
    if privileged:
        return list(known)
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
