"""``update`` (new resources for a running container, as `docker update` needs) and
``events --stats``, side by side with runc: the container's cgroup files after the same
update commands must read the same."""

from __future__ import annotations

import json
import os

import pytest

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.integration,
]

MEM = "/sys/fs/cgroup/memory"
FILES = (
    f"{MEM}/memory.limit_in_bytes",
    f"{MEM}/memory.soft_limit_in_bytes",
    "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
    "/sys/fs/cgroup/cpu/cpu.shares",
    "/sys/fs/cgroup/pids/pids.max",
)


def _cgroup_dir(controller: str, pid: int) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            if controller in names.split(","):
                return f"/sys/fs/cgroup/{controller}{path}"
    raise AssertionError(f"no {controller} cgroup for {pid}")


def _read(pid: int) -> list[str]:
    out = []
    for path in FILES:
        controller, name = path.split("/")[4], path.split("/")[5]
        with open(os.path.join(_cgroup_dir(controller, pid), name)) as f:
            out.append(f.read().strip())
    return out


def test_update_same_as_runc(runtimes, bundle, subreaper):
    bundle.config["linux"]["resources"] = {
        "memory": {"limit": 64 << 20},
        "pids": {"limit": 50},
    }
    bundle.write(["sleep", "60"])
    seen = {}
    for runtime in runtimes:
        cid = runtime.new_id()
        assert runtime.call("run", "--detach", "--bundle", str(bundle.path), cid).returncode == 0
        pid = json.loads(runtime.call("state", cid).stdout)["pid"]
        steps = [_read(pid)]
        r = runtime.call(
            "update", "--memory", "256m", "--memory-reservation", "128m",
            "--cpu-quota", "30000", "--cpu-period", "100000", "--cpu-share", "256",
            "--pids-limit", "20", cid,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        steps.append(_read(pid))
        r = runtime.call("update", "--resources", "-", cid,
                         input=json.dumps({"memory": {"limit": 32 << 20}}).encode(),
                         stdin=None)  # fmt: skip
        assert r.returncode == 0, r.stderr
        steps.append(_read(pid))
        stats = json.loads(runtime.call("events", "--stats", cid).stdout)
        assert stats["type"] == "stats" and stats["id"] == cid
        assert stats["data"]["pids"]["current"] >= 1
        assert stats["data"]["memory"]["usage"]["usage"] > 0
        assert stats["data"]["cpu"]["usage"]["total"] > 0
        runtime.call("delete", "--force", cid)
        os.waitpid(pid, 0)
        seen[runtime.name] = steps
    assert seen["dockyard"] == seen["runc"], seen
    assert seen["runc"][1][0] == str(256 << 20) and seen["runc"][1][4] == "20"
