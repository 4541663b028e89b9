"""`docker rm` and `docker container prune`. rm: Docker's refusals (a running or restarting container without
force, a removal in progress), the kill of a forced one, then everything the
container holds let go: its rootfs mount, snapshot, volumes (anonymous ones with
`-v`), cgroups and files; its record dropped, `destroy` sent and `removed`
waiters released. prune: every stopped container (not restarting) older than
`until` and matching `label`, removed, and the space its layer held counted.

Split from `containers.py` (issue 13); the blocking pieces are
`container_teardown`'s. The service calls `remove_container` with itself.
"""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING, Any

from dockyard.api.errors import Conflict, NotFound
from dockyard.api.filters import labels_match
from dockyard.api.timefilters import unix_time
from dockyard.daemon.services import container_teardown as teardown
from dockyard.daemon.services.disk_usage import rw_size
from dockyard.monitor import jsonlog

if TYPE_CHECKING:  # the service calls us with itself
    from dockyard.daemon.services.containers import ContainerService


async def remove_container(
    svc: ContainerService, ref: str, force: bool = False, volumes: bool = False
) -> None:
    c = svc.get(ref)
    if c.live.restart_task is not None:
        if not force:
            raise Conflict(
                f"You cannot remove a restarting container {c.id}. Stop the container "
                "before attempting removal or force remove"
            )
        svc.supervisor.cancel_restart(c)
    if c.running:
        if not force:
            raise Conflict(
                f"You cannot remove a running container {c.id}. Stop the container "
                "before attempting removal or force remove"
            )
        if c.live.removing:
            raise Conflict(f"removal of container {c.id} is already in progress")
        c.live.removing = True
        svc.send(c, {"op": "kill", "signal": int(signal.SIGKILL)})
        await c.live.exited.wait()
        if c.id not in svc.containers:
            return
    elif c.live.removing and c.id not in svc.containers:
        return
    c.live.removing = True
    task = c.live.reader_task
    if task is not None and not task.done() and task is not asyncio.current_task():
        try:
            await asyncio.wait_for(asyncio.shield(task), 5)
        except TimeoutError:
            pass
    await asyncio.to_thread(svc.unmount_container, c.id)
    try:
        await asyncio.to_thread(svc.images.snapshotter.remove, c.id)
    except NotFound:
        pass
    await svc.volumes.release(c, remove_anonymous=volumes)
    await asyncio.to_thread(teardown.remove_cgroups, c.id)
    await asyncio.to_thread(teardown.remove_files, svc.paths, c.id)
    svc.records.drop(c)
    svc.records.publish(c, "destroy")
    for _, fut in c.live.waiters:
        if not fut.done():
            fut.set_result({"StatusCode": c.state.get("ExitCode", 0), "Error": None})
    c.live.waiters = []


async def prune_containers(svc: ContainerService, filters: dict[str, list[str]]) -> dict[str, Any]:
    """`docker container prune`: every stopped container, filtered by `until` and `label`."""
    until = filters.get("until", [])
    cutoff = min((unix_time(u) for u in until), default=None)
    deleted: list[str] = []
    reclaimed = 0
    for c in list(svc.containers.values()):
        too_new = cutoff is not None and jsonlog.parse_rfc3339_nano(c.created) / 1e9 >= cutoff
        if c.running or c.live.restart_task is not None or too_new:
            continue
        if not labels_match(c.config.get("Labels") or {}, filters):
            continue
        size = await asyncio.to_thread(rw_size, svc.images.snapshotter, c.id)
        await remove_container(svc, c.id)
        deleted.append(c.id)
        reclaimed += size
    svc.events.publish("container", "prune", "", {"reclaimed": str(reclaimed)})
    return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}
