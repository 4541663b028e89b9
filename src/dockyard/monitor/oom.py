"""Was a container OOM killed? Read by the monitor when its process has exited and
before `runtime delete` removes the cgroups (after that there is nothing to read).

dockerd learns it from containerd's OOM event and reports `State.OOMKilled` and an
`oom` event; here the memory cgroup's OOM-kill counter says the same once the
container is gone (v1 `memory.oom_control`, v2 `memory.events`, behind the runtime's
cgroup interface). The cgroup is the one the bundle's spec names, so this holds for
runc as for our runtime. Never raises: a monitor must not fail its loop over this.
"""

from __future__ import annotations

import json
import os


def oom_killed(bundle: str, container_id: str) -> bool:
    try:
        with open(os.path.join(bundle, "config.json")) as f:
            spec = json.load(f)
        from dockyard.runtime import cgroups  # the monitor imports it only on exit

        path = (spec.get("linux") or {}).get("cgroupsPath") or ""
        return cgroups.new_manager(path, container_id).oom_kills() > 0
    except Exception:  # noqa: BLE001 - unknown is "not OOM killed", as before
        return False
