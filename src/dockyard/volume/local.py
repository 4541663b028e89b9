"""The `local` volume driver: a directory per volume under data-root/volumes.

data-root/volumes/<name>/_data        the volume's content (or a mount point for it)
data-root/volumes/<name>/volume.json  driver options, labels, creation time

Options are Docker's local driver's (`type`, `device`, `o`): with a type, the
filesystem is mounted on _data while a container uses the volume (tmpfs, or
`type=none,o=bind,device=/path` for a bind), unmounted when the last one stops.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass, field
from typing import Any

from dockyard.api.errors import InvalidParameter, NotFound, SystemError_
from dockyard.monitor import jsonlog
from dockyard.snapshot.mount import Mount, mount, unmount

ALLOWED_OPTS = ("type", "device", "o", "size")


@dataclass
class Volume:
    name: str
    path: str  # the volume dir; data in path/_data
    created: str
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False

    @property
    def data(self) -> str:
        return os.path.join(self.path, "_data")


def is_mounted(path: str) -> bool:
    """From mountinfo: os.path.ismount misses a bind mount within one filesystem."""
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            target = line.split()[4].encode().decode("unicode_escape")
            if target == path:
                return True
    return False


class LocalDriver:
    name = "local"

    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(root, mode=0o701, exist_ok=True)

    def _dir(self, name: str) -> str:
        return os.path.join(self.root, name)

    def create(
        self, name: str, options: dict[str, str], labels: dict[str, str], anonymous: bool
    ) -> Volume:
        for k in options:
            if k not in ALLOWED_OPTS:
                raise InvalidParameter(f"invalid option key: {k!r}")
        if options.get("type") == "none" and "bind" in options.get("o", "").split(","):
            if not os.path.isdir(options.get("device", "")):
                raise NotFound(
                    f"failed to mount local volume: mount {options.get('device')}:"
                    f"{self._dir(name)}/_data, flags: 0x1000: no such file or directory"
                )
        v = Volume(name, self._dir(name), jsonlog.rfc3339_nano(), options, labels, anonymous)
        os.makedirs(v.data, mode=0o755, exist_ok=True)
        meta = {"options": options, "labels": labels, "created": v.created, "anonymous": anonymous}
        with open(os.path.join(v.path, "volume.json"), "w") as f:
            json.dump(meta, f)
        return v

    def load(self) -> list[Volume]:
        out = []
        for name in sorted(os.listdir(self.root)):
            try:
                with open(os.path.join(self._dir(name), "volume.json")) as f:
                    m = json.load(f)
            except (OSError, json.JSONDecodeError):
                continue
            out.append(
                Volume(
                    name, self._dir(name), m.get("created", ""), m.get("options") or {},
                    m.get("labels") or {}, bool(m.get("anonymous")),
                )
            )  # fmt: skip
        return out

    def needs_mount(self, v: Volume) -> bool:
        return bool(v.options.get("type") or v.options.get("device"))

    def mount(self, v: Volume) -> None:
        if not self.needs_mount(v) or is_mounted(v.data):
            return
        typ = v.options.get("type", "")
        opts = tuple(o for o in v.options.get("o", "").split(",") if o)
        if v.options.get("size"):
            opts += (f"size={v.options['size']}",)
        if typ == "none" or "bind" in opts:
            mount(
                Mount("bind", v.options["device"], ("bind", *(o for o in opts if o != "bind"))),
                v.data,
            )
        else:
            mount(Mount(typ, v.options.get("device") or typ, opts), v.data)

    def unmount(self, v: Volume) -> None:
        for _ in range(8):  # stacked mounts, one at a time
            if not is_mounted(v.data):
                return
            unmount(v.data)

    def remove(self, v: Volume) -> None:
        self.unmount(v)
        if is_mounted(v.data):  # never delete through a mount (a bind's device data)
            raise SystemError_(f"remove {v.name}: volume is still mounted")
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(v.path)

    def size(self, v: Volume) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(v.data):
            for f in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(dirpath, f)).st_size
        return total

    def view(self, v: Volume) -> dict[str, Any]:
        return {
            "CreatedAt": v.created,
            "Driver": "local",
            "Labels": v.labels or ({"com.docker.volume.anonymous": ""} if v.anonymous else {}),
            "Mountpoint": v.data,
            "Name": v.name,
            "Options": v.options or None,
            "Scope": "local",
        }
