"""What a daemon killed mid-work leaves behind, reclaimed when the next one starts.

A SIGKILL can land between any two steps of create and start: a record's temp
file written but not renamed, a container directory and snapshot made but no
record, a network namespace made (maybe with its veth on the bridge and an
address inside) but no endpoint saved. Nothing refers to such things, so
nothing would ever remove them, and an address configured in an orphaned
namespace is one IPAM hands out again. Restore calls these after it has loaded
what is owned; each removes only what no container owns, so no prune is needed.
They run before the daemon serves: nothing is being created meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from collections.abc import Iterable

from dockyard.network import links, netns
from dockyard.snapshot.snapshotter import Snapshotter

log = logging.getLogger(__name__)

_CONTAINER_ID = re.compile(r"[0-9a-f]{64}")


def container_leftovers(
    containers_root: str, bundles_root: str, record: str, known: set[str], sn: Snapshotter
) -> None:
    """Temp files, container directories without a record, snapshots without a
    container (`known`: the ids restore loaded)."""
    temp_files(containers_root)
    temp_files(bundles_root)
    unrecorded_containers(containers_root, record, known)
    snapshots(sn, known)


def network_leftovers(
    netns_dir: str, owners: set[str], bridges: Iterable[str], owned_veths: set[str]
) -> None:
    """Namespaces no running container owns (`owners`: their names), then veths on
    our bridges no endpoint owns; the addresses in them go with them."""
    namespaces(netns_dir, owners)
    veths(bridges, owned_veths)


def temp_files(root: str) -> None:
    """`*.tmp` files (`fsutil.write_atomic`'s) in `root` and its subdirectories."""
    for dirpath in [root, *(e.path for e in _scandir(root) if e.is_dir(follow_symlinks=False))]:
        for e in _scandir(dirpath):
            if e.name.endswith(".tmp") and e.is_file(follow_symlinks=False):
                log.info("reclaim: temp file %s", e.path)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(e.path)


def unrecorded_containers(root: str, record: str, known: set[str]) -> list[str]:
    """Container directories with no record (a create cut short: the record is
    written last, atomically): removed; their ids."""
    gone = []
    for e in _scandir(root):
        if e.name in known or not _CONTAINER_ID.fullmatch(e.name) or not e.is_dir():
            continue
        if os.path.exists(os.path.join(e.path, record)):
            continue  # a record restore could not read: kept for a human to look at
        log.info("reclaim: container directory without a record %s", e.path)
        shutil.rmtree(e.path, ignore_errors=True)
        gone.append(e.name)
    return gone


def snapshots(snapshotter: Snapshotter, containers: set[str]) -> None:
    """Active snapshots keyed by a container id no container has."""
    for info in list(snapshotter.walk()):
        if info.kind == "active" and _CONTAINER_ID.fullmatch(info.key):
            if info.key not in containers:
                log.info("reclaim: snapshot %s", info.key)
                with contextlib.suppress(Exception):
                    snapshotter.remove(info.key)


def namespaces(netns_dir: str, owners: set[str]) -> None:
    """Network namespaces under `netns_dir` no running container owns (the
    warm pool's `pool-*` are the pool's own to clean)."""
    for e in _scandir(netns_dir):
        if e.name in owners or e.name.startswith("pool-"):
            continue
        log.info("reclaim: network namespace %s", e.path)
        with contextlib.suppress(Exception):
            netns.remove(e.path)


def veths(bridges: Iterable[str], owned: set[str]) -> None:
    """veths plugged into our bridges that no endpoint owns (their namespace
    went above, or the daemon died before the endpoint was saved)."""
    for bridge in bridges:
        for name in links.ports_of(bridge):
            if name not in owned:
                log.info("reclaim: veth %s on %s", name, bridge)
                links.delete_link(name)


def _scandir(path: str) -> list[os.DirEntry[str]]:
    try:
        return list(os.scandir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []
