"""The daemon's one caller of OCI runtimes (`dockyard-runtime`, runc or an added
one). A container or exec is created and started through a monitor (the monitor
runs `runtime create`/`exec`, holds the stdio and reaps the exit); everything
else a runtime does to a running container (update, pause, resume, exec of a
probe, delete) is one run of the runtime's command line here, so that no
service spawns a runtime by itself.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from dockyard.api.errors import InvalidParameter, SystemError_
from dockyard.daemon.services.monitors import MonitorHosts
from dockyard.daemon.services.runtimes import Runtime
from dockyard.fsutil import write_json_atomic
from dockyard.monitor.config import MonitorConfig


class TaskRuntime:
    def __init__(self, monitors: MonitorHosts) -> None:
        self.monitors = monitors

    async def create(self, config: MonitorConfig, path: str) -> int:
        """A monitor for `config` (written at `path`) on a monitor host; it runs
        `runtime create` (a container) or is ready to `exec` (an exec). The
        monitor's pid; Docker's errors when the runtime refused."""
        write_json_atomic(path, config.to_json(), durable=False)
        line = await self.monitors.place(path)
        try:
            ready = json.loads(line) if line.strip() else {}
        except json.JSONDecodeError:
            ready = {}
        if not isinstance(ready, dict) or not ready:
            ready = {"ok": False, "error": "monitor exited without a word"}
        if ready.get("ok"):
            return int(ready.get("monitor_pid") or 0)
        err = str(ready.get("error", "unknown error"))
        if config.mode == "exec":
            raise SystemError_(f"exec monitor failed: {err}")
        msg = (
            "failed to create task for container: failed to create shim task: "
            f"OCI runtime create failed: {err}: unknown"
        )
        if "executable file not found" in err or "no such file" in err:
            raise InvalidParameter(msg)
        raise SystemError_(msg)

    async def run(self, rt: Runtime, *args: str, stdin: bytes | None = None) -> str:
        """One runtime command; its stdout, or SystemError_ with its stderr."""
        proc = await asyncio.create_subprocess_exec(
            *rt.argv, *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate(stdin)
        if proc.returncode != 0:
            raise SystemError_(err.decode(errors="replace").strip() or f"runtime {args[0]} failed")
        return out.decode(errors="replace")

    async def pause(self, rt: Runtime, cid: str) -> None:
        await self.run(rt, "pause", cid)

    async def resume(self, rt: Runtime, cid: str) -> None:
        await self.run(rt, "resume", cid)

    async def update(self, rt: Runtime, cid: str, resources: dict[str, Any]) -> None:
        """New cgroup limits for a running container (`runtime update --resources -`)."""
        try:
            await self.run(rt, "update", "--resources", "-", cid,
                           stdin=json.dumps(resources).encode())  # fmt: skip
        except SystemError_ as exc:
            raise SystemError_(f"Cannot update container {cid}: {exc.message}") from None

    async def delete(self, rt: Runtime, cid: str) -> None:
        """Forget the runtime's state of a container whose monitor is gone (it would
        have deleted it), so the id can be created again; killing what is left."""
        proc = await asyncio.create_subprocess_exec(
            *rt.argv, "delete", "--force", cid,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await proc.wait()

    async def exec_output(
        self, rt: Runtime, cid: str, process_file: str, timeout: float
    ) -> tuple[int, bytes] | None:
        """Run a process (an OCI process file) in the container to its end: its exit
        code and output (stdout and stderr together); None when it outlived
        `timeout` (then it is killed)."""
        proc = await asyncio.create_subprocess_exec(
            *rt.argv, "exec", "--process", process_file, cid,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return None
        return (proc.returncode if proc.returncode is not None else -1), out
