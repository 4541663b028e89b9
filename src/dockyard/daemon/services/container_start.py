"""One start of a container: its rootfs mounted, /dev/shm, the network attached,
the OCI spec written (`container_spec`), a monitor made through the task runtime
from a typed `MonitorConfig`, and the monitor told to start; it returns when the
runtime started the process (or raises its error). What was set up is undone if
the monitor cannot be made.

Split from `containers.py` (issue 13): the life cycle (`start`, restart policies)
holds the container's lock around `launch` and records the outcome.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

from dockyard.api.errors import SystemError_
from dockyard.daemon.services import logopts, shared_ns
from dockyard.daemon.services.container_model import Container, SandboxInfo
from dockyard.daemon.services.container_spec import container_spec
from dockyard.fsutil import write_json_atomic
from dockyard.monitor.config import MonitorConfig

if TYPE_CHECKING:  # the service calls us with itself
    from dockyard.daemon.services.containers import ContainerService


async def launch(svc: ContainerService, c: Container) -> None:
    cid = c.id
    bundle = svc.paths.bundle(cid)
    rootfs = svc.paths.rootfs(cid)
    os.makedirs(rootfs, exist_ok=True)
    mounts = svc.images.snapshotter.mounts(cid)
    await asyncio.to_thread(svc.mount_all, mounts, rootfs)
    sandbox: SandboxInfo | None = None
    try:
        await asyncio.to_thread(shared_ns.mount_shm, c.host_config, svc.paths.shm(cid))
        sandbox = await svc.network.attach(c)
        spec = container_spec(
            c, rootfs, sandbox, await svc.volumes.mounts(c, rootfs), paths=svc.paths,
            security=svc.security, init_binary=svc.init_binary, lookup=svc.get,
        )  # fmt: skip
        write_json_atomic(os.path.join(bundle, "config.json"), spec, durable=False)
        try:
            os.unlink(svc.paths.exit_file(cid))
        except FileNotFoundError:
            pass
        rt = svc.runtime_of(c.host_config)
        log_keys = logopts.monitor_log(c.host_config.get("LogConfig") or {},
                                       svc.paths.log(cid), c)  # fmt: skip
        config = MonitorConfig(
            id=cid, bundle=bundle, socket=svc.paths.monitor_socket(cid), runtime=rt.argv[0],
            runtime_args=rt.argv[1:], runtime_inproc=rt.inproc, rootfs=rootfs,
            exit_file=svc.paths.exit_file(cid), stdin=bool(c.config.get("OpenStdin")),
            tty=bool(c.config.get("Tty")), **log_keys,
        )  # fmt: skip
        await svc.task_runtime.create(config, svc.paths.monitor_config(cid))
    except BaseException:
        await asyncio.to_thread(svc.unmount_container, cid)
        if sandbox is not None:
            await svc.network.detach(c)
        raise
    c.live.exited = asyncio.Event()
    loop = asyncio.get_running_loop()
    c.live.started = loop.create_future()
    await svc.link.connect(c)
    svc.send(c, {"op": "start"})
    result = await c.live.started
    if result.get("event") == "error":
        raise SystemError_(
            "failed to start container: OCI runtime start failed: "
            f"{result.get('message', '')}: unknown"
        )
    # The link recorded "running" when the monitor said so: it sees "started"
    # and "exit" in order, so a container that exits at once is never left
    # marked running by a late update here.
