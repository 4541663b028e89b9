"""Snapshots (containerd's model) over overlayfs, the mounts they return, and
layer apply/diff (tar <-> directory, Docker whiteouts <-> overlay whiteouts)."""

from dockyard.snapshot.mount import Mount, mount_all, unmount
from dockyard.snapshot.overlay import OverlaySnapshotter
from dockyard.snapshot.snapshotter import Info, Snapshotter, Usage, upper_dir

__all__ = [
    "Info",
    "Mount",
    "OverlaySnapshotter",
    "Snapshotter",
    "Usage",
    "mount_all",
    "unmount",
    "upper_dir",
]
