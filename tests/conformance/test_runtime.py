"""The daemon-side `Runtime` protocol's contract (`daemon/services/task_runtime.py`),
run against its one implementation (monitor hosts + an OCI runtime) with each OCI
runtime on the machine: dockyard-runtime and runc. Real busybox containers; every
test deletes what it created and stops the monitor hosts it started (by pid)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.api.errors import SystemError_
from dockyard.daemon.services.monitors import MonitorHosts
from dockyard.daemon.services.runtimes import Runtime as OciRuntime
from dockyard.daemon.services.task_runtime import Runtime, TaskRuntime
from dockyard.monitor.config import MonitorConfig
from dockyard.runtime.spec import default_spec

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.integration,
]

BIN = Path(sys.executable).parent
RUNTIMES = {"dockyard-runtime": str(BIN / "dockyard-runtime"), "runc": shutil.which("runc")}


class Env:
    """A temp exec root: the monitor hosts' sockets, runtime state, bundles."""

    def __init__(self, root: Path, runtime_bin: str, rootfs_tar: Path) -> None:
        self.root = root
        self.rootfs_tar = rootfs_tar
        self.rt = OciRuntime("t", runtime_bin, (runtime_bin, "--root", str(root / "state")))
        self.monitors = MonitorHosts(str(root / "m"), str(BIN / "dockyard-monitor"), 8)
        self.runtime: Runtime = TaskRuntime(self.monitors)
        self.created: list[str] = []

    def config(self, args: list[str], mode: str = "container") -> MonitorConfig:
        cid = "dyconf" + secrets.token_hex(8)
        self.created.append(cid)
        bundle = self.root / cid
        rootfs = bundle / "rootfs"
        rootfs.mkdir(parents=True)
        with tarfile.open(self.rootfs_tar) as tf:
            tf.extractall(rootfs, filter="fully_trusted")
        spec = default_spec(args, terminal=False)
        spec["root"] = {"path": str(rootfs), "readonly": False}
        spec["linux"]["cgroupsPath"] = f"/dockyard/{cid}"
        (bundle / "config.json").write_text(json.dumps(spec))
        return MonitorConfig(
            id=cid, bundle=str(bundle), socket=str(self.root / f"{cid}.sock"),
            runtime=self.rt.argv[0], runtime_args=self.rt.argv[1:],
            exit_file=str(bundle / "exit.json"),
        )  # fmt: skip

    def cleanup(self) -> None:
        for cid in self.created:
            subprocess.run([*self.rt.argv, "delete", "--force", cid], capture_output=True,
                           timeout=30)  # fmt: skip
        mine = str(self.root)
        for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if mine.encode() in cmdline and int(pid) != os.getpid():
                os.kill(int(pid), signal.SIGKILL)  # a monitor host this test started


@pytest.fixture(params=sorted(RUNTIMES))
def env(request: pytest.FixtureRequest, busybox_rootfs_tar: Path) -> Iterator[Env]:
    binary = RUNTIMES[request.param]
    if not binary or not os.path.exists(binary):
        pytest.skip(f"{request.param} is not installed")
    root = Path(tempfile.mkdtemp(prefix="dyconf-rt-", dir="/run"))
    e = Env(root, binary, busybox_rootfs_tar)
    try:
        yield e
    finally:
        e.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def run(coro):  # noqa: ANN001, ANN201
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_create_start_wait_gives_the_exit_code(env: Env) -> None:
    async def go() -> dict:
        cfg = env.config(["sh", "-c", "exit 7"])
        await env.runtime.create(cfg, str(Path(cfg.bundle) / "monitor.json"))
        task = await env.runtime.attach(cfg.id, cfg.socket)
        try:
            assert await env.runtime.start(task) > 0
            return await env.runtime.wait(task)
        finally:
            task.close()

    assert run(go())["exit_code"] == 7


def test_create_fails_with_docker_s_error_for_a_missing_command(env: Env) -> None:
    async def go() -> None:
        cfg = env.config(["/no/such/binary"])
        await env.runtime.create(cfg, str(Path(cfg.bundle) / "monitor.json"))
        task = await env.runtime.attach(cfg.id, cfg.socket)
        try:
            await env.runtime.start(task)
            await env.runtime.wait(task)
        finally:
            task.close()

    with pytest.raises(Exception) as info:  # noqa: PT011 (create or start refuses, per runtime)
        run(go())
    assert "OCI runtime" in str(info.value) or "no such file" in str(info.value)


def test_kill_ends_a_running_container_with_the_signal(env: Env) -> None:
    async def go() -> dict:
        cfg = env.config(["sleep", "300"])
        await env.runtime.create(cfg, str(Path(cfg.bundle) / "monitor.json"))
        task = await env.runtime.attach(cfg.id, cfg.socket)
        try:
            await env.runtime.start(task)
            env.runtime.kill(task, int(signal.SIGKILL))
            return await env.runtime.wait(task)
        finally:
            task.close()

    assert run(go())["exit_code"] == 128 + signal.SIGKILL


def test_pause_resume_update_stats_exec_and_delete(env: Env) -> None:
    async def go() -> None:
        cfg = env.config(["sleep", "300"])
        await env.runtime.create(cfg, str(Path(cfg.bundle) / "monitor.json"))
        task = await env.runtime.attach(cfg.id, cfg.socket)
        try:
            pid = await env.runtime.start(task)
            await env.runtime.pause(env.rt, cfg.id)
            assert _proc_state(pid) in ("D", "S", "T")  # frozen: never R
            assert _freezer(cfg.id) == "FROZEN"
            await env.runtime.resume(env.rt, cfg.id)
            assert _freezer(cfg.id) == "THAWED"

            await env.runtime.update(env.rt, cfg.id, {"memory": {"limit": 64 << 20}})
            sample = env.runtime.stats(cfg.id, pid)
            assert sample["mem_limit"] == 64 << 20
            assert sample["pids"] >= 1

            process = json.loads((Path(cfg.bundle) / "config.json").read_text())["process"]
            pfile = Path(cfg.bundle) / "probe.json"
            pfile.write_text(json.dumps(dict(process, args=["sh", "-c", "echo hi; exit 3"])))
            assert await env.runtime.exec_output(env.rt, cfg.id, str(pfile), 30) == (3, b"hi\n")
            pfile.write_text(json.dumps(dict(process, args=["sleep", "30"])))
            assert await env.runtime.exec_output(env.rt, cfg.id, str(pfile), 0.5) is None

            env.runtime.kill(task, int(signal.SIGKILL))
            await env.runtime.wait(task)
        finally:
            task.close()
        await env.runtime.delete(env.rt, cfg.id)
        state = subprocess.run([*env.rt.argv, "state", cfg.id], capture_output=True)
        assert state.returncode != 0  # forgotten: the id can be created again

    run(go())


def test_update_of_an_unknown_container_is_docker_s_error(env: Env) -> None:
    with pytest.raises(SystemError_, match="^Cannot update container nosuch: "):
        run(env.runtime.update(env.rt, "nosuch", {"memory": {"limit": 64 << 20}}))


def _proc_state(pid: int) -> str:
    deadline = time.monotonic() + 10
    while True:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state != "R" or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def _freezer(cid: str) -> str:
    return Path(f"/sys/fs/cgroup/freezer/dockyard/{cid}/freezer.state").read_text().strip()
