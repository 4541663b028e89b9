"""The daemon-side `Runtime` protocol and its one implementation, the daemon's only
caller of OCI runtimes (`dockyard-runtime`, runc or an added one).

A container or exec is created through a monitor (`create`: the monitor runs
`runtime create`, or is ready to `runtime exec`, holds the stdio and reaps the
exit); the daemon then talks to that monitor over a link (`attach` → `Task`):
`start`, `kill`, `wait` are messages on it (`monitor/protocol.py`). Everything
else a runtime does to a running container (update, pause, resume, an exec run
to its end, delete) is one run of the runtime's command line, and stats are read
from the container's cgroups. The container service relays output itself, so it
reads its link in `container_link`; `start`/`wait` here read the link for callers
that need no output (a probe, the conformance suite in tests/conformance/).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from dockyard.api.errors import InvalidParameter, SystemError_
from dockyard.daemon.services import stats
from dockyard.daemon.services.monitors import MonitorHosts
from dockyard.daemon.services.runtimes import Runtime as OciRuntime
from dockyard.fsutil import write_json_atomic
from dockyard.monitor import protocol
from dockyard.monitor.config import MonitorConfig
from dockyard.proto import stdcopy


@dataclass
class Task:
    """A link to the monitor of one created container or exec."""

    id: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    # frames read past the last event asked for (one read may hold several)
    decoder: stdcopy.FrameDecoder = field(default_factory=stdcopy.FrameDecoder)

    def send(self, msg: dict[str, Any]) -> None:
        if not self.writer.is_closing():
            self.writer.write(protocol.control(msg))

    async def event(self, *names: str) -> dict[str, Any]:
        """The next control message that is one of `names` (output frames skipped);
        ConnectionError when the link ends first."""
        while True:
            for frame in self.decoder:
                if frame.stream == stdcopy.CONTROL:
                    msg = protocol.parse_control(frame.data)
                    if msg.get("event") in names:
                        return msg
            data = await self.reader.read(1 << 16)
            if not data:
                raise ConnectionError("monitor link ended")
            self.decoder.feed(data)

    def close(self) -> None:
        self.writer.close()


class Runtime(Protocol):
    """What the daemon asks of an OCI runtime, per container (or exec) id."""

    async def create(self, config: MonitorConfig, path: str) -> int: ...

    async def attach(self, cid: str, socket: str) -> Task: ...

    async def start(self, task: Task) -> int: ...

    def kill(self, task: Task, signum: int) -> None: ...

    async def wait(self, task: Task) -> dict[str, Any]: ...

    async def exec_output(
        self, rt: OciRuntime, cid: str, process_file: str, timeout: float
    ) -> tuple[int, bytes] | None: ...

    async def pause(self, rt: OciRuntime, cid: str) -> None: ...

    async def resume(self, rt: OciRuntime, cid: str) -> None: ...

    async def update(self, rt: OciRuntime, cid: str, resources: dict[str, Any]) -> None: ...

    async def delete(self, rt: OciRuntime, cid: str) -> None: ...

    def stats(self, cid: str, pid: int) -> dict[str, Any]: ...


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

    async def attach(self, cid: str, socket: str) -> Task:
        """A link to the monitor listening on `socket` (just created, or found again
        after a daemon restart); OSError when there is none."""
        reader, writer = await asyncio.open_unix_connection(socket)
        return Task(cid, reader, writer)

    async def start(self, task: Task) -> int:
        """Start the created process; its pid. SystemError_ when the runtime failed."""
        task.send({"op": "start"})
        msg = await task.event("started", "error")
        if msg.get("event") == "error":
            raise SystemError_(f"OCI runtime start failed: {msg.get('message', '')}: unknown")
        return int(msg.get("pid") or 0)

    def kill(self, task: Task, signum: int) -> None:
        task.send({"op": "kill", "signal": signum})

    async def wait(self, task: Task) -> dict[str, Any]:
        """The exit ({"exit_code", "finished_at", ...}) once the process has ended."""
        return await task.event("exit")

    def stats(self, cid: str, pid: int) -> dict[str, Any]:
        """One sample of the container's cgroup and network counters (`stats.py`)."""
        return stats.sample(cid, pid)

    async def run(self, rt: OciRuntime, *args: str, stdin: bytes | None = None) -> str:
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

    async def pause(self, rt: OciRuntime, cid: str) -> None:
        await self.run(rt, "pause", cid)

    async def resume(self, rt: OciRuntime, cid: str) -> None:
        await self.run(rt, "resume", cid)

    async def update(self, rt: OciRuntime, cid: str, resources: dict[str, Any]) -> None:
        """New cgroup limits for a running container (`runtime update --resources -`)."""
        try:
            await self.run(rt, "update", "--resources", "-", cid,
                           stdin=json.dumps(resources).encode())  # fmt: skip
        except SystemError_ as exc:
            raise SystemError_(f"Cannot update container {cid}: {exc.message}") from None

    async def delete(self, rt: OciRuntime, cid: str) -> None:
        """Forget the runtime's state of a container whose monitor is gone (it would
        have deleted it), so the id can be created again; killing what is left."""
        proc = await asyncio.create_subprocess_exec(
            *rt.argv, "delete", "--force", cid,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await proc.wait()

    async def exec_output(
        self, rt: OciRuntime, cid: str, process_file: str, timeout: float
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
