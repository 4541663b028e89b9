"""`docker create`: a new container's record from the request, its image and the
daemon's defaults, and its snapshot prepared (nothing runs).

Split from `containers.py` (issue 13): the life cycle calls `create_container`
with itself; the rules of the config (`container_config`), shared namespaces
(`shared_ns`) and names (`names`) keep their own homes. On any failure the
snapshot and the container's files are removed again, so the id leaves nothing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import TYPE_CHECKING, Any

from dockyard.api.errors import InvalidParameter
from dockyard.daemon.services import container_teardown as teardown
from dockyard.daemon.services import names, ocispec, shared_ns
from dockyard.daemon.services.container_config import (
    check_auto_remove,
    fill_config,
    fill_host_config,
)
from dockyard.daemon.services.container_model import Container, initial_state
from dockyard.daemon.services.runtimes import check_runtime
from dockyard.monitor import jsonlog

if TYPE_CHECKING:  # the service calls us with itself
    from dockyard.daemon.services.containers import ContainerService


def create_container(
    svc: ContainerService, name: str | None, body: dict[str, Any]
) -> tuple[str, list[str]]:
    """The new container's id and the warnings of its host config."""
    if not isinstance(body, dict):
        raise InvalidParameter("invalid container config")
    host_config = body.pop("HostConfig", None) or {}
    networking = body.pop("NetworkingConfig", None)
    image_ref = body.get("Image") or ""
    if not image_ref:
        raise InvalidParameter("invalid reference format")
    check_auto_remove(host_config)
    canonical = names.validate(name) if name else names.random_name(set(svc.by_name))
    svc.records.check_name_free(canonical)
    image = svc.images.resolve(image_ref)
    cfg = ocispec.merge_config(body, (image.config or {}).get("config") or {})
    args = ocispec.command_line(cfg)
    cid = secrets.token_hex(32)
    cfg["Image"] = image_ref
    cfg.setdefault("Hostname", "")
    shared_ns.resolve_at_create(host_config, cfg, cid, svc.get)
    fill_config(cfg)
    warnings = fill_host_config(
        host_config, log_default=svc.log_default, security=svc.security,
        runtime_name=svc.runtime_name, check_runtime=lambda n: check_runtime(svc, n),
    )  # fmt: skip
    os.makedirs(svc.paths.container_dir(cid), mode=0o700)
    try:
        svc.images.snapshotter.prepare(cid, image.snapshot)
        c = Container(
            id=cid,
            name=canonical,
            created=jsonlog.rfc3339_nano(),
            image=image_ref,
            image_id=image.id,
            config=cfg,
            host_config=host_config,
            path=args[0],
            args=args[1:],
            state=initial_state(),
        )
        svc.network.created(c, networking)  # checks and keeps NetworkingConfig
        svc.volumes.validate(c)  # checks Binds/Mounts (--mount errors)
        svc.save(c, durable=True)
    except BaseException:
        with contextlib.suppress(Exception):
            svc.images.snapshotter.remove(cid)
        teardown.remove_files(svc.paths, cid)
        raise
    svc.records.add(c)
    svc.records.publish(c, "create")
    return cid, warnings
