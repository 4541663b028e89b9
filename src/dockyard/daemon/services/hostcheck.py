"""Resources the host's kernel cannot give a container: dockerd's
verifyPlatformContainerResources warnings, for what it warns about and discards
rather than refuses. Checked at create and update; the setting is zeroed in the
HostConfig (inspect shows it discarded, as dockerd's does) and the warning goes back
in the response's `Warnings`, which the docker CLI prints.
"""

from __future__ import annotations

from typing import Any

from dockyard.runtime import cgroups

BLKIO_WEIGHT_DISCARDED = (
    "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
)


def discard_unsupported(hc: dict[str, Any]) -> list[str]:
    warnings = []
    if hc.get("BlkioWeight") and not cgroups.blkio_weight_supported():
        hc["BlkioWeight"] = 0
        warnings.append(BLKIO_WEIGHT_DISCARDED)
    return warnings
