"""Checks that need the whole merged model: every reference resolves.

Compose v2's wording (`service "web" refers to undefined network front: invalid
compose project`), naming the service and the key; the file-level structure was
checked already by `schema` while each file was read.
"""

from __future__ import annotations

from dockyard.compose.errors import ValidationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

INVALID = "invalid compose project"


def _fail(file: str | None, message: str) -> None:
    raise ValidationError(file, "", f"{message}: {INVALID}")


def check(doc: dict[str, Any], sources: dict[str, str]) -> None:
    """`doc` is the merged long form; `sources` maps a service to the file defining it."""
    services = doc.get("services") or {}
    networks = doc.get("networks") or {}
    volumes = doc.get("volumes") or {}
    for name, svc in services.items():
        file = sources.get(name)
        if not svc.get("image") and not svc.get("build"):
            _fail(file, f'service "{name}" has neither an image nor a build context specified')
        for net in svc.get("networks") or {}:
            if net not in networks and net != "default":
                _fail(file, f'service "{name}" refers to undefined network {net}')
        mode = svc.get("network_mode")
        if mode and svc.get("networks"):
            _fail(
                file, f'service "{name}" declares mutually exclusive `network_mode` and `networks`'
            )
        for mount in svc.get("volumes") or []:
            src = mount.get("source")
            if mount.get("type") == "volume" and src and src not in volumes:
                _fail(file, f'service "{name}" refers to undefined volume {src}')
        for key in ("secrets", "configs"):
            defined = doc.get(key) or {}
            for ref in svc.get(key) or []:
                if ref.get("source") not in defined:
                    _fail(
                        file, f'service "{name}" refers to undefined {key[:-1]} {ref.get("source")}'
                    )
        if svc.get("container_name") and int(svc.get("scale", 1) or 1) > 1:
            _fail(file, f'service "{name}" can\'t be scaled when a container name is specified')
    for key in ("secrets", "configs"):
        for name, spec in (doc.get(key) or {}).items():
            sources_set = [k for k in ("file", "environment", "content") if k in spec]
            if not spec.get("external") and len(sources_set) != 1:
                _fail(
                    None,
                    f"{key}.{name}: exactly one of file, environment, content or external must be set",
                )
