"""The system service: the /info document, from the other services' counts."""

from __future__ import annotations

import os
import platform
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from dockyard import __version__
from dockyard.buildinfo import build_info
from dockyard.daemon.paths import DaemonPaths
from dockyard.daemon.services import logopts
from dockyard.daemon.services.containers import ContainerService
from dockyard.daemon.services.runtimes import Runtimes
from dockyard.monitor import jsonlog


def _meminfo_total() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def cgroup_version() -> str:
    return "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"


class ImageLister(Protocol):
    """What `docker info` needs of the image service: its images, intermediate ones
    included (`show_all`): dockerd counts the whole image store."""

    def list_images(self, show_all: bool = False) -> list[dict[str, Any]]: ...


@dataclass(eq=False)
class SystemService:
    paths: DaemonPaths
    containers: ContainerService
    images: ImageLister
    runtime_name: str
    daemon_id: str
    runtimes: Runtimes | None = field(default=None, init=False)

    def _image_count(self) -> int:
        try:
            return len(self.images.list_images(show_all=True))
        except Exception:  # noqa: BLE001 - `docker info` answers without the count
            return 0

    def engine_description(self) -> dict[str, Any]:
        """What this engine tells a swarm about itself (a Node's Description)."""
        return {"hostname": socket.gethostname(), "version": __version__,
                "ncpu": os.cpu_count() or 1, "memory": _meminfo_total()}  # fmt: skip

    def info(self) -> dict[str, Any]:
        cs = list(self.containers.containers.values())
        running = sum(1 for c in cs if c.running)
        paused = sum(1 for c in cs if c.state.get("Paused"))
        uname = os.uname()
        commit = build_info().git_commit
        arch = {"x86_64": "x86_64", "aarch64": "aarch64"}.get(uname.machine, uname.machine)
        return {
            "ID": self.daemon_id,
            "Containers": len(cs),
            "ContainersRunning": running - paused,
            "ContainersPaused": paused,
            "ContainersStopped": len(cs) - running,
            "Images": self._image_count(),
            "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
            "Plugins": {
                "Volume": ["local"],
                "Network": ["bridge", "host", "none"],
                "Authorization": None,
                "Log": list(logopts.DRIVERS),
            },
            "MemoryLimit": True,
            "SwapLimit": True,
            "KernelMemory": False,
            "CpuCfsPeriod": True,
            "CpuCfsQuota": True,
            "CPUShares": True,
            "CPUSet": True,
            "PidsLimit": True,
            "OomKillDisable": cgroup_version() == "1",
            "IPv4Forwarding": True,
            "Debug": False,
            "NFd": len(os.listdir("/proc/self/fd")),
            "NGoroutines": 0,
            "SystemTime": jsonlog.rfc3339_nano(),
            "LoggingDriver": self.containers.log_default["Type"],
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": cgroup_version(),
            "NEventsListener": 0,
            "KernelVersion": uname.release,
            "OperatingSystem": _os_name(),
            "OSVersion": "",
            "OSType": "linux",
            "Architecture": arch,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {
                "AllowNondistributableArtifactsCIDRs": None,
                "AllowNondistributableArtifactsHostnames": None,
                "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                "IndexConfigs": {},
                "Mirrors": None,
            },
            "NCPU": os.cpu_count() or 1,
            "MemTotal": _meminfo_total(),
            "GenericResources": None,
            "DockerRootDir": self.paths.data_root,
            "HttpProxy": "",
            "HttpsProxy": "",
            "NoProxy": "",
            "Name": socket.gethostname(),
            "Labels": [],
            "ExperimentalBuild": False,
            "ServerVersion": __version__,
            "Runtimes": self.runtimes.info()
            if self.runtimes is not None
            else {self.runtime_name: {"path": self.runtime_name}},
            "DefaultRuntime": self.runtime_name,
            "Swarm": {
                "NodeID": "",
                "NodeAddr": "",
                "LocalNodeState": "inactive",
                "ControlAvailable": False,
                "Error": "",
                "RemoteManagers": None,
            },
            "LiveRestoreEnabled": True,
            "Isolation": "",
            "InitBinary": "",
            # the monitor (containerd's part), runtime and init are this build's
            "ContainerdCommit": {"ID": commit, "Expected": commit},
            "RuncCommit": {"ID": commit, "Expected": commit},
            "InitCommit": {"ID": commit, "Expected": commit},
            "SecurityOptions": ["name=seccomp,profile=builtin"],
            "Warnings": None,
            "ServerTime": time.time(),
            "PythonVersion": platform.python_version(),
        }
