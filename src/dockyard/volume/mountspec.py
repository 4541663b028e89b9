"""A container's mounts from Docker's create request, parsed (pure, no I/O).

Binds (`-v src:dst[:opts]`), Mounts (`--mount`), Tmpfs (`--tmpfs`) and the
config's anonymous Volumes (image VOLUME, `-v /path`) become MountPoints with
Docker's validation messages. Sources that are names are volumes; absolute
paths are binds.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from dockyard.api.errors import InvalidParameter

VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")


@dataclass
class MountPoint:
    type: str  # volume, bind, tmpfs
    destination: str
    source: str = ""  # volume name or host path
    rw: bool = True
    propagation: str = ""
    mode: str = ""
    nocopy: bool = False
    anonymous: bool = False
    create_source: bool = False  # -v creates a missing host dir; --mount does not
    tmpfs_options: list[str] = field(default_factory=list)
    driver_opts: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> MountPoint:
        return cls(**d)


def _dest(path: str) -> str:
    if not path.startswith("/"):
        raise InvalidParameter(f"invalid mount config: mount path must be absolute: {path}")
    if path == "/":
        raise InvalidParameter("invalid specification: destination can't be '/'")
    return posixpath.normpath(path)


def parse_bind(spec: str) -> MountPoint:
    """`-v`: src:dst[:opts], /dst (anonymous), name:dst."""
    parts = spec.split(":")
    if len(parts) == 1:
        return MountPoint("volume", _dest(parts[0]), anonymous=True)
    if len(parts) > 3 or not parts[0] or not parts[1]:
        raise InvalidParameter(
            f"invalid spec: {spec}: too many colons"
            if len(parts) > 3
            else f"invalid volume specification: '{spec}'"
        )
    src, dst = parts[0], parts[1]
    opts = parts[2].split(",") if len(parts) == 3 else []
    mp = MountPoint("bind" if src.startswith("/") else "volume", _dest(dst), source=src)
    for o in opts:
        if o in ("ro", "rw"):
            mp.rw = o == "rw"
        elif o in PROPAGATIONS:
            mp.propagation = o
        elif o in ("z", "Z"):
            pass
        elif o == "nocopy":
            mp.nocopy = True
        else:
            raise InvalidParameter(f"invalid mode: {o}")
    mp.mode = parts[2] if len(parts) == 3 else ""
    if mp.type == "bind":
        mp.source = posixpath.normpath(src)
        mp.create_source = True
    elif not VOLUME_NAME.match(src):
        raise InvalidParameter(
            f'create {src}: "{src}" includes invalid characters for a local volume name, '
            'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
            "directory, use absolute path"
        )
    return mp


def parse_mount(m: dict[str, Any]) -> MountPoint:
    """`--mount` as the API carries it (Type, Source, Target, ReadOnly, *Options)."""
    kind = m.get("Type") or "volume"
    target = m.get("Target") or m.get("Destination") or ""
    if not target:
        raise InvalidParameter("invalid mount config: field Target must not be empty")
    dst = _dest(target)
    src = m.get("Source") or ""
    rw = not m.get("ReadOnly")
    if kind == "bind":
        if not src:
            raise InvalidParameter(
                'invalid mount config for type "bind": field Source must not be empty'
            )
        opts = m.get("BindOptions") or {}
        return MountPoint("bind", dst, posixpath.normpath(src), rw, opts.get("Propagation") or "")
    if kind == "volume":
        vo = m.get("VolumeOptions") or {}
        drv = (vo.get("DriverConfig") or {}).get("Options") or {}
        if src and not VOLUME_NAME.match(src):
            raise InvalidParameter(
                f'invalid mount config for type "volume": invalid volume name: {src}'
            )
        return MountPoint(
            "volume", dst, src, rw, nocopy=bool(vo.get("NoCopy")), anonymous=not src,
            driver_opts=dict(drv), labels=dict(vo.get("Labels") or {}),
        )  # fmt: skip
    if kind == "tmpfs":
        if src:
            raise InvalidParameter(
                'invalid mount config for type "tmpfs": field Source must be empty'
            )
        to = m.get("TmpfsOptions") or {}
        opts = []
        if to.get("SizeBytes"):
            opts.append(f"size={int(to['SizeBytes'])}")
        if to.get("Mode"):
            opts.append(f"mode={int(to['Mode']):o}")
        return MountPoint("tmpfs", dst, "", rw, tmpfs_options=opts)
    raise InvalidParameter(f"invalid mount config: mount type unknown: {kind!r}")


def parse_tmpfs(dest: str, options: str) -> MountPoint:
    opts = [o for o in (options or "").split(",") if o]
    rw = "ro" not in opts
    return MountPoint(
        "tmpfs", _dest(dest), "", rw, tmpfs_options=[o for o in opts if o not in ("ro", "rw")]
    )


def parse_all(config: dict[str, Any], host_config: dict[str, Any]) -> list[MountPoint]:
    """Every mount of a new container; a later one wins on the same destination,
    and the image's anonymous volumes only fill destinations nobody else took."""
    by_dest: dict[str, MountPoint] = {}
    explicit: list[MountPoint] = [parse_bind(b) for b in host_config.get("Binds") or []]
    explicit += [parse_mount(m) for m in host_config.get("Mounts") or []]
    explicit += [parse_tmpfs(d, o) for d, o in (host_config.get("Tmpfs") or {}).items()]
    for mp in explicit:
        if mp.destination in by_dest:
            raise InvalidParameter(f"Duplicate mount point: {mp.destination}")
        by_dest[mp.destination] = mp
    for dest in config.get("Volumes") or {}:
        d = _dest(dest)
        if d not in by_dest:
            by_dest[d] = MountPoint("volume", d, anonymous=True)
    return list(by_dest.values())


def oci_options(mp: MountPoint) -> list[str]:
    if mp.type == "tmpfs":
        return ["nosuid", "nodev", "noexec", *mp.tmpfs_options, "rw" if mp.rw else "ro"]
    return ["rbind", mp.propagation or "rprivate", "rw" if mp.rw else "ro"]
