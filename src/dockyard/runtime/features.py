"""``dockyard-runtime features``: what this runtime supports, in the OCI features schema."""

from __future__ import annotations

from .capabilities import CAPABILITIES
from .hooks import HOOK_NAMES
from .spec import _MOUNT_FLAGS, _PROPAGATION, OCI_VERSION
from .syscalls import NAMESPACE_FLAGS

__all__ = ["features"]


def features() -> dict:
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": list(HOOK_NAMES),
        "mountOptions": sorted(set(_MOUNT_FLAGS) | set(_PROPAGATION)),
        "linux": {
            "namespaces": sorted(NAMESPACE_FLAGS),
            "capabilities": list(CAPABILITIES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {"enabled": True},
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
        "annotations": {"org.dockyard.runtime.version": "0.1.0"},
    }
