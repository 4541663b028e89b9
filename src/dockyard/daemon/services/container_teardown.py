"""What is left of a container once it stops or goes: its mounted rootfs and
shareable /dev/shm, its cgroups, its directories, and a monitor orphaned by a
daemon killed inside `start`. Blocking helpers (run them in a thread) apart from
the life cycle that decides when.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import Callable

from dockyard.daemon.paths import DaemonPaths
from dockyard.daemon.services import shared_ns
from dockyard.monitor import protocol


def unmount_container(paths: DaemonPaths, unmount: Callable[[str], None], cid: str) -> None:
    """Its rootfs (if mounted) and a shareable container's /dev/shm."""
    if os.path.ismount(paths.rootfs(cid)):
        unmount(paths.rootfs(cid))
    shared_ns.release_shm(paths.shm(cid))


def remove_cgroups(cid: str) -> None:
    """The runtime removes the container's cgroups on delete, but gives up if tasks
    are slow to leave (a loaded machine); the path is ours (`/dockyard/<id>`), so
    removal retries here. rmdir only ever removes an empty cgroup."""
    roots = ["/sys/fs/cgroup"] + [e.path for e in os.scandir("/sys/fs/cgroup") if e.is_dir()]
    for root in roots:
        path = os.path.join(root, "dockyard", cid)
        for _ in range(50):
            try:
                os.rmdir(path)
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)
            else:
                break


def remove_files(paths: DaemonPaths, cid: str) -> None:
    shutil.rmtree(paths.container_dir(cid), ignore_errors=True)
    shutil.rmtree(paths.bundle(cid), ignore_errors=True)


async def kill_orphan_monitor(sock: str) -> bool:
    """SIGKILL through a monitor left behind without its daemon (one whose container
    never got `start`) and wait until it hangs up; False when there is none."""
    if not os.path.exists(sock):
        return False
    try:
        reader, writer = await asyncio.open_unix_connection(sock)
    except OSError:
        return True
    writer.write(protocol.control({"op": "kill", "signal": int(signal.SIGKILL)}))
    try:
        while await asyncio.wait_for(reader.read(65536), 5):
            pass
    except (TimeoutError, ConnectionError):
        pass
    writer.close()
    return True
