"""The container service on daemon start (live restore), and a container whose
monitor was lost while the daemon was away.

Split from `containers.py` (issue 13). `restore` loads the records, reaps what a
killed daemon left half done (see docs/design-notes.md, "Restore reaps
half-started work"), reconnects to the monitors of running containers and starts
those whose restart policy says so. `exited_while_away` is also the monitor
link's callback when a link is lost: the exit record (or 255) goes through the
life cycle's exit path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import TYPE_CHECKING

from dockyard.api.errors import DockyardError
from dockyard.daemon.services import container_teardown as teardown
from dockyard.daemon.services.container_model import Container, restart_policy
from dockyard.daemon.services.reclaim import container_leftovers
from dockyard.monitor import jsonlog

if TYPE_CHECKING:  # the service calls us with itself
    from dockyard.daemon.services.containers import ContainerService

log = logging.getLogger("dockyard.containers")


async def restore(svc: ContainerService) -> None:
    """Load records; reconnect to monitors of running containers (live restore)."""
    svc.records.load()
    paths = svc.paths
    await asyncio.to_thread(
        container_leftovers, paths.containers_root, paths.bundles_root,
        os.path.basename(paths.container_record("x")), set(svc.containers),
        svc.images.snapshotter,
    )  # fmt: skip
    for c in list(svc.containers.values()):
        if c.running:
            try:
                await svc.link.connect(c)
                svc.send(c, {"op": "status"})
                svc.supervisor.start_health(c)
            except OSError:
                await exited_while_away(svc, c)
        else:
            if c.state.get("Restarting"):
                c.state.update(Restarting=False, Status="exited")
            if await teardown.kill_orphan_monitor(paths.monitor_socket(c.id)):
                await runtime_delete(svc, c.id)
            await asyncio.to_thread(svc.unmount_container, c.id)
    for c in list(svc.containers.values()):
        policy = restart_policy(c.host_config)[0]
        if not c.running and not c.manually_stopped and policy in ("always", "unless-stopped"):
            try:
                await svc.start(c.id)
            except DockyardError as exc:
                log.warning("restart of %s on daemon start failed: %s", c.id[:12], exc.message)


async def exited_while_away(svc: ContainerService, c: Container) -> None:
    """The container ended without its monitor telling us: its exit record, else 255."""
    try:
        with open(svc.paths.exit_file(c.id)) as f:
            result = json.load(f)
    except (OSError, json.JSONDecodeError):
        result = {"exit_code": 255, "finished_at": jsonlog.rfc3339_nano(), "error": ""}
    await asyncio.to_thread(svc.unmount_container, c.id)
    await runtime_delete(svc, c.id)
    await svc.on_exit(c, result)


async def runtime_delete(svc: ContainerService, cid: str) -> None:
    c = svc.containers.get(cid)
    await svc.task_runtime.delete(svc.runtime_of(c.host_config if c else {}), cid)
