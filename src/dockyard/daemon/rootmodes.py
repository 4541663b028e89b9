"""The modes of the directories the daemon keeps under --data-root and
--exec-root, as dockerd sets them, applied at every start.

A data root left 0755 let any local user read volume data, image layers, the
metadata database and the build cache. dockerd makes its root 0710 and its
stores 0700 (images, build cache, swarm), 0710 (containers, overlay2: the
remapped root of a user namespace may traverse them), 0701 (volumes), 0750
(network); its exec root 0700 when it creates it. The same here, by name of
each top directory (the stores' own paths modules name what is inside), and
an existing root of an older version is fixed at start: the root and every
top directory get their mode, whatever the umask made them.
"""

from __future__ import annotations

import contextlib
import os

DATA_ROOT_MODE = 0o710
EXEC_ROOT_MODE = 0o700

# top directories under --data-root (dockerd's equivalent in comments)
DATA_DIRS: dict[str, int] = {
    "containers": 0o710,  # containers
    "image": 0o700,  # image (the content store and metadata database)
    "snapshots": 0o710,  # overlay2
    "volumes": 0o701,  # volumes (a volume's own directory keeps its mode)
    "network": 0o750,  # network
    "builder": 0o700,  # builder / buildkit: contexts and the build cache
    "swarm": 0o700,  # swarm
    "tmp": 0o700,  # tmp
}
# top directories under --exec-root: all private to root, as dockerd's
EXEC_DIRS: dict[str, int] = {
    "containers": 0o700,
    "runtime": 0o700,
    "s": 0o700,
    "m": 0o700,
    "netns": 0o700,
    "swarm": 0o700,
}


def _ensure(path: str, mode: int, fix: bool = True) -> None:
    """`path` exists as a directory with `mode` (made with it, or changed to it
    when `fix`); chmod after mkdir because the umask narrows mkdir's mode."""
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        if not fix:
            return
    os.chmod(path, mode)


def secure_roots(data_root: str, exec_root: str, remap_gid: int | None = None) -> None:
    """Create or fix the roots and their top directories. With a user namespace
    remap, the roots dockerd opens to the remapped root (0710) are group-owned
    by its gid, so it can traverse them and nobody else can."""
    os.makedirs(os.path.dirname(data_root) or "/", exist_ok=True)
    _ensure(data_root, DATA_ROOT_MODE)
    for name, mode in DATA_DIRS.items():
        _ensure(os.path.join(data_root, name), mode)
    os.makedirs(os.path.dirname(exec_root) or "/", exist_ok=True)
    _ensure(exec_root, EXEC_ROOT_MODE, fix=False)  # dockerd leaves an existing one alone
    for name, mode in EXEC_DIRS.items():
        _ensure(os.path.join(exec_root, name), mode)
    for path in (data_root, os.path.join(data_root, "containers"),
                 os.path.join(data_root, "snapshots")):  # fmt: skip
        with contextlib.suppress(PermissionError):
            os.chown(path, 0, remap_gid or 0)
