"""Secrets and configs whose value is not a file: `environment:` and `content:` sources.

Outside swarm a file-based secret is a read-only bind (`convert`); a value taken
from the project's environment, or a config's inline `content`, has no file to
bind, so, as Compose v2 does, it is written into the created container before it
starts: a one-file tar (mode from the reference, default 0444; uid/gid when
given) sent to `PUT /containers/{id}/archive` at `/`. Secrets go under
`/run/secrets/` unless the target is absolute; configs at `/<name>` by default.
"""

from __future__ import annotations

from dockyard.compose.errors import ComposeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.compose.engineapi import EngineAPI
    from dockyard.compose.model import Project, Service


def injected(project: Project, service: Service) -> list[tuple[dict[str, Any], str]]:
    """(reference, value) of each secret and config the service gets by copy."""
    out = []
    for key in ("secrets", "configs"):
        for ref in service.config.get(key) or []:
            spec = getattr(project, key)[ref["source"]]
            if "environment" in spec:
                name = spec["environment"]
                if name not in project.environment:
                    raise ComposeError(
                        f'environment variable "{name}" required by file '
                        f'"{spec.get("name") or ref["source"]}" is not set'
                    )
                value = project.environment[name]
            elif key == "configs" and "content" in spec:
                value = spec["content"]
            else:
                continue
            target = ref.get("target") or ref["source"]
            if not target.startswith("/"):
                target = ("/run/secrets/" if key == "secrets" else "/") + target
            out.append(({**ref, "target": target}, value))
    return out


def tar_of(ref: dict[str, Any], value: str) -> bytes:
    import io
    import tarfile
    import time

    data = value.encode()
    info = tarfile.TarInfo(ref["target"].lstrip("/"))
    info.size = len(data)
    info.mode = int(ref["mode"]) if ref.get("mode") is not None else 0o444
    info.mtime = int(time.time())
    info.uid = int(ref.get("uid") or 0)
    info.gid = int(ref.get("gid") or 0)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def inject(api: EngineAPI, project: Project, service: Service, cid: str) -> None:
    for ref, value in injected(project, service):
        api.put_archive(cid, "/", tar_of(ref, value), bool(ref.get("uid") or ref.get("gid")))
