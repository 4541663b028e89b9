"""The OCI runtime spec (v1.1) as the runtime reads it: config.json -> ``Spec``.

``load_spec`` validates a bundle's config once, at the edge; everything
downstream trusts a ``Spec``. Classes are plain ``__slots__`` classes rather
than frozen dataclasses because ``import dataclasses`` costs ~30 ms (it
imports ``inspect`` and ``re``), more than runc's whole ``run``.
``default_spec`` is what ``dockyard-runtime spec`` writes (runc's template).
"""

from __future__ import annotations

import os

from dockyard.mountflags import PROPAGATION

from . import jsontext
from .syscalls import NAMESPACE_FLAGS

__all__ = [
    "SpecError",
    "Spec",
    "Process",
    "Mount",
    "Namespace",
    "load_spec",
    "parse_spec",
    "parse_process",
    "default_spec",
    "validate_container_id",
    "RLIMITS",
]

OCI_VERSION = "1.1.0"


class SpecError(ValueError):
    """config.json (or a process.json) is not a valid OCI spec for this runtime."""


RLIMITS: dict[str, int] = {
    "RLIMIT_CPU": 0,
    "RLIMIT_FSIZE": 1,
    "RLIMIT_DATA": 2,
    "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5,
    "RLIMIT_NPROC": 6,
    "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8,
    "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10,
    "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12,
    "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14,
    "RLIMIT_RTTIME": 15,
}


def propagation_flag(name: str) -> int:
    """``rootfsPropagation`` value -> mount flags (SpecError if unknown)."""
    if name not in PROPAGATION:
        raise SpecError(f"invalid rootfsPropagation {name!r}")
    return PROPAGATION[name]


_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")


def validate_container_id(container_id: str) -> str:
    """runc's rule: ``^[\\w+-\\.]+$`` and not ``.`` or ``..``."""
    if not container_id or container_id in (".", "..") or not set(container_id) <= _ID_CHARS:
        raise SpecError(f"invalid container id format: {container_id}")
    if len(container_id) > 1024:
        raise SpecError("container id too long")
    return container_id


class User:
    __slots__ = ("uid", "gid", "umask", "additional_gids")

    def __init__(self, uid: int, gid: int, umask: int | None, additional_gids: list[int]):
        self.uid, self.gid, self.umask, self.additional_gids = uid, gid, umask, additional_gids


class Capabilities:
    """Sets of capability names (``CAP_*``), one per capability set."""

    __slots__ = ("bounding", "effective", "permitted", "inheritable", "ambient")

    def __init__(self, raw: dict):
        for name in self.__slots__:
            value = raw.get(name) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise SpecError(f"process.capabilities.{name} must be a list of names")
            setattr(self, name, value)


class Rlimit:
    __slots__ = ("resource", "soft", "hard")

    def __init__(self, resource: int, soft: int, hard: int):
        self.resource, self.soft, self.hard = resource, soft, hard


class Process:
    __slots__ = (
        "terminal",
        "user",
        "args",
        "env",
        "cwd",
        "capabilities",
        "rlimits",
        "no_new_privileges",
        "oom_score_adj",
        "apparmor_profile",
        "selinux_label",
        "console_size",
    )


class Mount:
    __slots__ = ("destination", "type", "source", "options")

    def __init__(self, destination: str, type_: str, source: str, options: list[str]):
        self.destination, self.type, self.source, self.options = destination, type_, source, options

    def is_bind(self) -> bool:
        return self.type == "bind" or "bind" in self.options or "rbind" in self.options


class Namespace:
    __slots__ = ("type", "path")

    def __init__(self, type_: str, path: str | None):
        self.type, self.path = type_, path


class Spec:
    """A validated config.json. ``raw`` keeps the whole document for what isn't modelled."""

    __slots__ = (
        "raw",
        "bundle",
        "root_path",
        "root_readonly",
        "hostname",
        "process",
        "mounts",
        "namespaces",
        "annotations",
        "masked_paths",
        "readonly_paths",
        "rootfs_propagation",
        "devices",
        "uid_mappings",
        "gid_mappings",
        "sysctl",
        "cgroups_path",
        "resources",
        "seccomp",
        "hooks",
        "domainname",
        "personality",
    )

    def namespace(self, type_: str) -> Namespace | None:
        for ns in self.namespaces:
            if ns.type == type_:
                return ns
        return None


#: linux.personality domains (sys/personality.h).
PERSONALITIES = {"LINUX": 0x0000, "LINUX32": 0x0008}


def _obj(value: object, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError(f"{where} must be an object")
    return value


def _strings(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{where} must be a list of strings")
    return value


def _int(value: object, where: str, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise SpecError(f"{where} must be an integer")
    return value


def parse_process(raw: dict, where: str = "process") -> Process:
    """Validate a ``process`` object (config.json's, or ``exec --process``'s)."""
    raw = _obj(raw, where)
    p = Process()
    p.terminal = bool(raw.get("terminal", False))
    user = _obj(raw.get("user"), f"{where}.user")
    p.user = User(
        _int(user.get("uid"), f"{where}.user.uid", 0),
        _int(user.get("gid"), f"{where}.user.gid", 0),
        user.get("umask"),
        [_int(g, f"{where}.user.additionalGids") for g in user.get("additionalGids") or []],
    )
    p.args = _strings(raw.get("args"), f"{where}.args")
    if not p.args:
        raise SpecError("args must not be empty")
    p.env = _strings(raw.get("env"), f"{where}.env")
    p.cwd = raw.get("cwd") or "/"
    if not isinstance(p.cwd, str) or not p.cwd.startswith("/"):
        raise SpecError("cwd property must not be empty and must be an absolute path")
    caps = raw.get("capabilities")
    p.capabilities = Capabilities(_obj(caps, f"{where}.capabilities")) if caps is not None else None
    p.rlimits = []
    for item in raw.get("rlimits") or []:
        item = _obj(item, f"{where}.rlimits[]")
        name = item.get("type")
        if name not in RLIMITS:
            raise SpecError(f"wrong rlimit value: {name}")
        p.rlimits.append(
            Rlimit(RLIMITS[name], _int(item.get("soft"), "soft"), _int(item.get("hard"), "hard"))
        )
    p.no_new_privileges = bool(raw.get("noNewPrivileges", False))
    score = raw.get("oomScoreAdj")
    p.oom_score_adj = None if score is None else _int(score, f"{where}.oomScoreAdj")
    p.apparmor_profile = raw.get("apparmorProfile")
    p.selinux_label = raw.get("selinuxLabel")
    size = _obj(raw.get("consoleSize"), f"{where}.consoleSize")
    p.console_size = (size.get("height", 0), size.get("width", 0)) if size else None
    return p


def parse_spec(raw: object, bundle: str) -> Spec:
    """Validate a decoded config.json; ``bundle`` is the absolute bundle directory."""
    raw = _obj(raw, "config")
    if not isinstance(raw.get("ociVersion"), str):
        raise SpecError("ociVersion must be a string")
    s = Spec()
    s.raw = raw
    s.bundle = bundle
    root = _obj(raw.get("root"), "root")
    path = root.get("path")
    if not isinstance(path, str) or not path:
        raise SpecError("root.path is required")
    s.root_path = os.path.normpath(os.path.join(bundle, path))
    s.root_readonly = bool(root.get("readonly", False))
    s.hostname = raw.get("hostname") or ""
    if "process" not in raw:
        raise SpecError("process property must not be empty")
    s.process = parse_process(raw["process"])
    s.mounts = []
    for i, m in enumerate(raw.get("mounts") or []):
        m = _obj(m, f"mounts[{i}]")
        dest = m.get("destination")
        if not isinstance(dest, str) or not dest:
            raise SpecError(f"mounts[{i}].destination is required")
        if not dest.startswith("/"):
            dest = "/" + dest  # runc accepts relative destinations with a warning
        s.mounts.append(
            Mount(
                dest,
                m.get("type") or "",
                m.get("source") or "",
                _strings(m.get("options"), f"mounts[{i}].options"),
            )
        )
    linux = _obj(raw.get("linux"), "linux")
    s.namespaces = []
    seen = set()
    for ns in linux.get("namespaces") or []:
        ns = _obj(ns, "linux.namespaces[]")
        kind = ns.get("type")
        if kind not in NAMESPACE_FLAGS:
            raise SpecError(f"namespace {kind!r} does not exist")
        if kind in seen:
            raise SpecError(f"malformed spec file: duplicated ns {kind!r}")
        seen.add(kind)
        s.namespaces.append(Namespace(kind, ns.get("path") or None))
    s.annotations = _obj(raw.get("annotations"), "annotations")
    s.masked_paths = _strings(linux.get("maskedPaths"), "linux.maskedPaths")
    s.readonly_paths = _strings(linux.get("readonlyPaths"), "linux.readonlyPaths")
    s.rootfs_propagation = linux.get("rootfsPropagation") or ""
    if s.rootfs_propagation:
        propagation_flag(s.rootfs_propagation)
    s.devices = [_obj(d, "linux.devices[]") for d in linux.get("devices") or []]
    s.uid_mappings = [_obj(m, "linux.uidMappings[]") for m in linux.get("uidMappings") or []]
    s.gid_mappings = [_obj(m, "linux.gidMappings[]") for m in linux.get("gidMappings") or []]
    s.sysctl = _obj(linux.get("sysctl"), "linux.sysctl")
    s.cgroups_path = linux.get("cgroupsPath") or ""
    s.resources = _obj(linux.get("resources"), "linux.resources")
    s.seccomp = linux.get("seccomp")
    s.hooks = _obj(raw.get("hooks"), "hooks")
    s.domainname = raw.get("domainname") or ""
    s.personality = None
    persona = linux.get("personality")
    if persona is not None:
        domain = _obj(persona, "linux.personality").get("domain")
        if domain not in PERSONALITIES:
            raise SpecError(f"invalid personality domain {domain}")
        s.personality = PERSONALITIES[domain]
    if s.uid_mappings and "user" not in seen:
        raise SpecError("user namespace mappings specified, but user namespace isn't enabled")
    return s


def load_spec(bundle: str) -> Spec:
    """Read and validate ``BUNDLE/config.json``."""
    bundle = os.path.abspath(bundle)
    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            text = f.read()
    except FileNotFoundError:
        raise SpecError("JSON specification file config.json not found") from None
    try:
        raw = jsontext.loads(text)
    except jsontext.JSONError as e:
        raise SpecError(f"config.json: {e}") from None
    return parse_spec(raw, bundle)


def default_spec(args: list[str] | None = None, terminal: bool = True) -> dict:
    """runc's ``spec`` template (hostname, capabilities, mounts, masked paths alike)."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": terminal,
            "user": {"uid": 0, "gid": 0},
            "args": list(args or ["sh"]),
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": list(caps),
                "effective": list(caps),
                "permitted": list(caps),
                "ambient": list(caps),
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": [
                    "nosuid",
                    "noexec",
                    "newinstance",
                    "ptmxmode=0666",
                    "mode=0620",
                    "gid=5",
                ],
            },
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            },
            {
                "destination": "/dev/mqueue",
                "type": "mqueue",
                "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"],
            },
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"],
            },
            {
                "destination": "/sys/fs/cgroup",
                "type": "cgroup",
                "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
            },
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"},
                {"type": "network"},
                {"type": "ipc"},
                {"type": "uts"},
                {"type": "mount"},
            ],
            "maskedPaths": [
                "/proc/acpi",
                "/proc/asound",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi",
            ],
            "readonlyPaths": [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger",
            ],
        },
    }
