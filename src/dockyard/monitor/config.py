"""A monitor's configuration: what the daemon tells a monitor host about one
container or exec (written as monitor.json in the bundle, its path sent to the
host, `host.py`). Frozen and typed on the daemon's side, shared by containers and
exec; the monitor reads the JSON object (`to_json`'s keys) back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class MonitorConfig:
    id: str  # the container's id (an exec's container's)
    bundle: str  # the OCI bundle (an exec's: its state directory)
    socket: str  # where the monitor listens for the daemon's links
    runtime: str  # the runtime's program
    runtime_args: Sequence[str] = ()  # its global flags (--root ...)
    # our own runtime, run in the monitor host's interpreter: its argv without the program
    runtime_inproc: Sequence[str] | None = None
    stdin: bool = False  # the process's stdin is kept open for the daemon's input link
    tty: bool = False
    mode: Literal["container", "exec"] = "container"
    rootfs: str | None = None  # container: unmounted when it exits
    exit_file: str | None = None  # container: the exit status kept on disk
    process: str | None = None  # exec: the OCI process file
    log_path: str | None = None  # container: the json-file log (None: no local log)
    log_opts: dict[str, Any] | None = None  # its rotation (logopts.file_options)
    syslog: dict[str, Any] | None = None  # a syslog copy (logdrivers.Sink)
    journald: dict[str, Any] | None = None  # a journald copy (logdrivers.JournalSink)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mode": self.mode, "id": self.id, "bundle": self.bundle, "socket": self.socket,
            "runtime": self.runtime, "runtime_args": list(self.runtime_args),
            "runtime_inproc": list(self.runtime_inproc) if self.runtime_inproc is not None
            else None, "stdin": self.stdin, "tty": self.tty,
        }  # fmt: skip
        optional = {
            "rootfs": self.rootfs, "exit_file": self.exit_file, "process": self.process,
            "log_path": self.log_path, "log_opts": self.log_opts, "syslog": self.syslog,
            "journald": self.journald,
        }  # fmt: skip
        out.update({k: v for k, v in optional.items() if v is not None})
        return out
