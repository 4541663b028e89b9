"""The fields `ps --format` templates see for a container (docker's ContainerContext).

Pure: built from one item of GET /containers/json; every field is a string.
"""

from __future__ import annotations

import time

from dockyard.cli.format import display_ports, ellipsis, go_quote, human_size, short_id, since

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Names": "NAMES",
    "Labels": "LABELS",
    "Label": "LABEL",
    "Mounts": "MOUNTS",
    "Networks": "NETWORKS",
    "LocalVolumes": "LOCAL VOLUMES",
}
_JSON_FIELDS = (
    "Command CreatedAt ID Image Labels LocalVolumes Mounts Names Networks Ports RunningFor "
    "Size State Status"
).split()


class _Header:
    def template_field(self, name: str) -> Any:
        if name == "Label":
            return lambda *_: "LABEL"
        return _HEADERS[name]


def ps_header() -> _Header:
    return _Header()


def go_time_string(timestamp: float) -> str:
    """Go's time.Time.String() in local time: `2026-11-22 21:25:51 +0000 UTC`."""
    local = time.localtime(timestamp)
    return time.strftime("%Y-%m-%d %H:%M:%S %z %Z", local)


class ContainerRow:
    def __init__(self, container: dict[str, Any], trunc: bool, now: float | None = None) -> None:
        self.c = container
        self.trunc = trunc
        self.now = now

    def template_field(self, name: str) -> Any:
        if name == "Label":
            return self.label
        if name not in _HEADERS:
            raise KeyError(name)
        return getattr(self, name.lower() if name != "ID" else "id")()

    def template_json(self) -> dict[str, str]:
        return {name: self.template_field(name) for name in _JSON_FIELDS}

    def id(self) -> str:
        return short_id(self.c.get("Id", "")) if self.trunc else self.c.get("Id", "")

    def image(self) -> str:
        image = self.c.get("Image") or ""
        if not image:
            return "<no image>"
        if self.trunc:
            if image.startswith("sha256:") or short_id(self.c.get("ImageID", "")) == image:
                return short_id(image)
            if "@" in image:
                return image.split("@", 1)[0]
        return image

    def command(self) -> str:
        command = self.c.get("Command") or ""
        return go_quote(ellipsis(command, 20) if self.trunc else command)

    def createdat(self) -> str:
        return go_time_string(self.c.get("Created", 0))

    def runningfor(self) -> str:
        return since(self.c.get("Created", 0), self.now)

    def ports(self) -> str:
        return display_ports(self.c.get("Ports") or [])

    def state(self) -> str:
        return self.c.get("State") or ""

    def status(self) -> str:
        return self.c.get("Status") or ""

    def size(self) -> str:
        rw = human_size(self.c.get("SizeRw") or 0)
        root = self.c.get("SizeRootFs") or 0
        return f"{rw} (virtual {human_size(root)})" if root > 0 else rw

    def names(self) -> str:
        names = [n[1:] if n.startswith("/") else n for n in self.c.get("Names") or []]
        if self.trunc:
            for name in names:
                if "/" not in name:
                    names = [name]
                    break
        return ",".join(names)

    def labels(self) -> str:
        labels = self.c.get("Labels") or {}
        return ",".join(f"{k}={labels[k]}" for k in sorted(labels))

    def label(self, name: str = "") -> str:
        return (self.c.get("Labels") or {}).get(name, "")

    def mounts(self) -> str:
        names = []
        for mount in self.c.get("Mounts") or []:
            name = mount.get("Name") or mount.get("Source") or ""
            names.append(ellipsis(name, 15) if self.trunc else name)
        return ",".join(names)

    def networks(self) -> str:
        networks = (self.c.get("NetworkSettings") or {}).get("Networks") or {}
        return ",".join(sorted(networks))

    def localvolumes(self) -> str:
        return str(sum(1 for m in self.c.get("Mounts") or [] if m.get("Driver") == "local"))
