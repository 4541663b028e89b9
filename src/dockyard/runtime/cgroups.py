"""Container cgroups: the v1 and v2 drivers of the ``CgroupManager`` protocol
(runtime/cgroupmanager.py).

``new_manager`` picks the driver (v2 when /sys/fs/cgroup is a unified
hierarchy) and resolves ``linux.cgroupsPath`` as runc does without systemd:
an absolute path is taken from each hierarchy's root, a relative one (or
the container id when empty) from the runtime's own cgroup. ``create`` makes
the directories and writes ``linux.resources`` before the init exists, then
calls ``apply(init pid)`` while the init sets up its rootfs, before anything
of the user's runs (``warm_attach`` says why this is worth overlapping).
``paths()`` is saved in the state so ``kill --all``, ``pause``, ``ps`` and
``delete`` work from a later process. The file system root is a parameter so
unit tests run on a temp dir tree.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False  # typing's own import costs ~20 ms on every runtime start
if TYPE_CHECKING:
    from dockyard.runtime.cgroupmanager import CgroupManager

__all__ = [
    "CgroupV1",
    "CgroupV2",
    "CgroupError",
    "new_manager",
    "from_paths",
    "warm_attach",
]

CGROUP_ROOT = "/sys/fs/cgroup"
V1_CONTROLLERS = (
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "name=systemd",
)
# What every container may use whatever linux.resources.devices says (runc's AllowedDevices).
DEFAULT_DEVICE_RULES = (
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:8 rwm",
    "c 1:7 rwm",
    "c 5:0 rwm",
    "c 1:5 rwm",
    "c 1:9 rwm",
    "c 5:1 rwm",
    "c 136:* rwm",
    "c 5:2 rwm",
    "c 10:200 rwm",
)


class CgroupError(RuntimeError):
    """A cgroup file could not be written or a cgroup not removed."""


def _write(path: str, value: object) -> None:
    try:
        with open(path, "w") as f:
            f.write(str(value))
    except OSError as e:
        raise CgroupError(f"failed to write {value!r} to {path}: {e.strerror}") from None


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def _counter(path: str, key: str) -> int:
    """A `key value` line of a flat-keyed cgroup file; 0 when absent or unreadable."""
    try:
        text = _read(path)
    except OSError:
        return 0
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0


def _own_cgroups(proc_cgroup: str = "/proc/self/cgroup") -> dict[str, str]:
    found = {}
    with open(proc_cgroup) as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                found[c] = path
    return found


def _rmdir_tree(path: str) -> None:
    """Remove a cgroup and its children, deepest first (retry while tasks drain)."""
    try:
        os.rmdir(path)  # the usual case: no children, no tasks left
        return
    except FileNotFoundError:
        return
    except OSError:
        pass
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            _rmdir_tree(entry.path)
    for _ in range(500):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.001)
    raise CgroupError(f"cannot remove cgroup {path}: still busy")


class CgroupV1:
    version = 1
    own: dict[str, str] | None = None

    def __init__(self, paths: dict[str, str], root: str = CGROUP_ROOT):
        self._paths, self._root = paths, root

    @classmethod
    def resolve(cls, cgroups_path: str, root: str = CGROUP_ROOT, own: dict | None = None):
        own = _own_cgroups() if own is None else own
        paths = {}
        for controller in V1_CONTROLLERS:
            directory = os.path.join(root, controller.removeprefix("name="))
            if not os.path.isdir(directory) or controller not in own:
                continue
            base = "/" if cgroups_path.startswith("/") else own[controller]
            paths[controller] = os.path.normpath(directory + "/" + base + "/" + cgroups_path)
        return cls(paths, root)

    def paths(self) -> dict[str, str]:
        return dict(self._paths)

    def hierarchy_paths(self) -> dict[str, str]:
        return {
            c: p[len(os.path.join(self._root, c.removeprefix("name="))) :] or "/"
            for c, p in self._paths.items()
        }

    def create(self, resources: dict) -> None:
        for controller, path in self._paths.items():
            os.makedirs(path, exist_ok=True)
            if controller == "cpuset":
                self._inherit_cpuset(path)
        self.set(resources)

    @staticmethod
    def _inherit_cpuset(path: str) -> None:
        """An empty cpuset refuses tasks: copy cpus/mems down from the first set parent."""
        for name in ("cpuset.cpus", "cpuset.mems"):
            if _read(os.path.join(path, name)):
                continue
            parent = os.path.dirname(path)
            chain = [path]
            while not _read(os.path.join(parent, name)):
                chain.append(parent)
                parent = os.path.dirname(parent)
            value = _read(os.path.join(parent, name))
            for directory in reversed(chain):
                _write(os.path.join(directory, name), value)

    def apply(self, pid: int) -> None:
        for path in self._paths.values():
            _write(os.path.join(path, "cgroup.procs"), pid)

    def _file(self, controller: str, name: str, value: object) -> None:
        if value is None or controller not in self._paths:
            return
        _write(os.path.join(self._paths[controller], name), value)

    def set(self, resources: dict) -> None:
        memory = resources.get("memory") or {}
        memsw = os.path.join(
            self._paths.get("memory", "/nonexistent"), "memory.memsw.limit_in_bytes"
        )
        swap = memory.get("swap") if os.path.exists(memsw) else None
        # memory+swap may never be below memory: raising both writes memsw first (an update)
        swap_first = swap is not None and (swap == -1 or swap > int(_read(memsw)))
        if swap_first:
            self._file("memory", "memory.memsw.limit_in_bytes", swap)
        self._file("memory", "memory.limit_in_bytes", memory.get("limit"))
        self._file("memory", "memory.soft_limit_in_bytes", memory.get("reservation"))
        if swap is not None and not swap_first:
            self._file("memory", "memory.memsw.limit_in_bytes", swap)
        self._file("memory", "memory.swappiness", memory.get("swappiness"))
        cpu = resources.get("cpu") or {}
        self._file("cpu", "cpu.shares", cpu.get("shares"))
        self._file("cpu", "cpu.cfs_period_us", cpu.get("period"))
        self._file("cpu", "cpu.cfs_quota_us", cpu.get("quota"))
        self._file("cpuset", "cpuset.cpus", cpu.get("cpus") or None)
        self._file("cpuset", "cpuset.mems", cpu.get("mems") or None)
        pids = resources.get("pids") or {}
        if pids.get("limit") is not None:
            self._file("pids", "pids.max", pids["limit"] if pids["limit"] > 0 else "max")
        weight = (resources.get("blockIO") or {}).get("weight")
        name = blkio_weight_file(self._paths["blkio"]) if "blkio" in self._paths else None
        if weight is not None and name is not None:
            self._file("blkio", name, weight)
        if "devices" in self._paths and "devices" in resources:
            self._set_devices(resources.get("devices") or [])

    def _set_devices(self, rules: list[dict]) -> None:
        for rule in rules:
            kind = rule.get("type") or "a"
            major = "*" if rule.get("major") in (None, -1) else rule["major"]
            minor = "*" if rule.get("minor") in (None, -1) else rule["minor"]
            text = "a" if kind == "a" else f"{kind} {major}:{minor} {rule.get('access') or 'rwm'}"
            self._file("devices", "devices.allow" if rule.get("allow") else "devices.deny", text)
        for text in DEFAULT_DEVICE_RULES:
            self._file("devices", "devices.allow", text)

    def freeze(self) -> None:
        self._freezer("FROZEN")

    def thaw(self) -> None:
        self._freezer("THAWED")

    def _freezer(self, state: str) -> None:
        path = self._paths.get("freezer")
        if not path:
            raise CgroupError("the freezer cgroup is not available")
        for _ in range(1000):
            _write(os.path.join(path, "freezer.state"), state)
            if _read(os.path.join(path, "freezer.state")) == state:
                return
            time.sleep(0.001)
        raise CgroupError(f"cgroup {path} did not reach {state}")

    def pids(self) -> list[int]:
        path = (
            self._paths.get("pids") or self._paths.get("memory") or next(iter(self._paths.values()))
        )
        with open(os.path.join(path, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]

    def stats(self) -> dict:
        def number(controller: str, name: str) -> int | None:
            try:
                return int(_read(os.path.join(self._paths[controller], name)))
            except (KeyError, OSError, ValueError):
                return None

        return {
            "memory": {
                "usage": number("memory", "memory.usage_in_bytes"),
                "limit": number("memory", "memory.limit_in_bytes"),
                "max_usage": number("memory", "memory.max_usage_in_bytes"),
            },
            "cpu": {"usage": {"total": number("cpuacct", "cpuacct.usage")}},
            "pids": {
                "current": number("pids", "pids.current"),
                "limit": number("pids", "pids.max"),
            },
        }

    def oom_kills(self) -> int:
        # memory.oom_control: "oom_kill_disable 0\nunder_oom 0\noom_kill N"
        if "memory" not in self._paths:
            return 0
        return _counter(os.path.join(self._paths["memory"], "memory.oom_control"), "oom_kill")

    def destroy(self) -> None:
        for path in self._paths.values():
            _rmdir_tree(path)


class CgroupV2:
    version = 2
    own: dict[str, str] | None = None

    def __init__(self, path: str, root: str = CGROUP_ROOT):
        self._path, self._root = path, root

    @classmethod
    def resolve(cls, cgroups_path: str, root: str = CGROUP_ROOT, own: dict | None = None):
        own = _own_cgroups() if own is None else own
        base = "/" if cgroups_path.startswith("/") else own.get("", "/")
        return cls(os.path.normpath(root + "/" + base + "/" + cgroups_path), root)

    def paths(self) -> dict[str, str]:
        return {"": self._path}

    def hierarchy_paths(self) -> dict[str, str]:
        return {"": self._path[len(self._root) :] or "/"}

    def create(self, resources: dict) -> None:
        os.makedirs(self._path, exist_ok=True)
        parent = os.path.dirname(self._path)
        try:
            wanted = _read(os.path.join(parent, "cgroup.controllers")).split()
            _write(
                os.path.join(parent, "cgroup.subtree_control"), " ".join("+" + c for c in wanted)
            )
        except (OSError, CgroupError):
            pass
        self.set(resources)

    def apply(self, pid: int) -> None:
        _write(os.path.join(self._path, "cgroup.procs"), pid)

    def _file(self, name: str, value: object) -> None:
        if value is not None:
            _write(os.path.join(self._path, name), value)

    def set(self, resources: dict) -> None:
        memory = resources.get("memory") or {}
        limit = memory.get("limit")
        self._file("memory.max", None if limit is None else ("max" if limit < 0 else limit))
        self._file("memory.low", memory.get("reservation"))
        swap = memory.get("swap")
        if swap is not None and limit is not None and swap > 0:
            self._file("memory.swap.max", max(swap - limit, 0))
        cpu = resources.get("cpu") or {}
        if cpu.get("shares"):
            # runc's conversion of v1 shares [2, 262144] to v2 weight [1, 10000]
            self._file("cpu.weight", 1 + ((cpu["shares"] - 2) * 9999) // 262142)
        if cpu.get("quota") is not None or cpu.get("period") is not None:
            quota = cpu.get("quota")
            self._file(
                "cpu.max",
                f"{'max' if quota in (None, -1) else quota} {cpu.get('period') or 100000}",
            )
        self._file("cpuset.cpus", cpu.get("cpus") or None)
        self._file("cpuset.mems", cpu.get("mems") or None)
        pids = resources.get("pids") or {}
        if pids.get("limit") is not None:
            self._file("pids.max", pids["limit"] if pids["limit"] > 0 else "max")
        weight = (resources.get("blockIO") or {}).get("weight")
        if weight and os.path.exists(os.path.join(self._path, "io.bfq.weight")):
            self._file("io.bfq.weight", weight)
        elif weight and os.path.exists(os.path.join(self._path, "io.weight")):
            # runc's conversion of blkio's [10, 1000] to io.weight's [1, 10000]
            self._file("io.weight", f"default {1 + (weight - 10) * 9999 // 990}")

    def freeze(self) -> None:
        self._freeze("1")

    def thaw(self) -> None:
        self._freeze("0")

    def _freeze(self, value: str) -> None:
        _write(os.path.join(self._path, "cgroup.freeze"), value)
        for _ in range(1000):
            events = _read(os.path.join(self._path, "cgroup.events"))
            if f"frozen {value}" in events:
                return
            time.sleep(0.001)
        raise CgroupError(f"cgroup {self._path} did not reach frozen {value}")

    def pids(self) -> list[int]:
        with open(os.path.join(self._path, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]

    def stats(self) -> dict:
        def number(name: str) -> int | None:
            try:
                return int(_read(os.path.join(self._path, name)))
            except (OSError, ValueError):
                return None

        return {
            "memory": {"usage": number("memory.current"), "limit": number("memory.max")},
            "pids": {"current": number("pids.current"), "limit": number("pids.max")},
        }

    def oom_kills(self) -> int:
        return _counter(os.path.join(self._path, "memory.events"), "oom_kill")

    def destroy(self) -> None:
        _rmdir_tree(self._path)


def blkio_weight_file(directory: str) -> str | None:
    """The v1 file that takes a block I/O weight, as runc picks it: `blkio.weight`
    (CFQ), else `blkio.bfq.weight` (kernels with only BFQ); None when neither."""
    for name in ("blkio.weight", "blkio.bfq.weight"):
        if os.path.exists(os.path.join(directory, name)):
            return name
    return None


def blkio_weight_supported(root: str = CGROUP_ROOT) -> bool:
    """Can a container be given a block I/O weight here (dockerd's sysinfo check)?"""
    if is_unified(root):
        try:
            return "io" in _read(os.path.join(root, "cgroup.controllers")).split()
        except OSError:
            return False
    return blkio_weight_file(os.path.join(root, "blkio")) is not None


def is_unified(root: str = CGROUP_ROOT) -> bool:
    return os.path.exists(os.path.join(root, "cgroup.controllers"))


def new_manager(cgroups_path: str, container_id: str, root: str = CGROUP_ROOT) -> CgroupManager:
    """The driver for this host; ``cgroups_path`` empty means the container id.

    ``own`` (this process's cgroups, which it was resolved from) is kept for
    :func:`warm_attach`."""
    path = cgroups_path or container_id
    if ":" in path and not path.startswith("/"):
        raise CgroupError(f"systemd cgroup paths ({path}) are not supported")
    own = _own_cgroups()
    manager = (CgroupV2 if is_unified(root) else CgroupV1).resolve(path, root, own)
    manager.own = own
    return manager


def warm_attach(
    root: str = CGROUP_ROOT, own: dict[str, str] | None = None, unified: bool | None = None
) -> None:
    """Write our own pid to our own cgroup.procs (a no-op move), in a thread.

    Every write to a cgroup.procs takes the kernel's global threadgroup lock, and the
    first one after a quiet spell waits out an RCU grace period first (10-40 ms on
    this VM, longer under load); writes within a grace period of it do not. The
    wait happens under cgroup_mutex, which mkdir of a cgroup needs too: so start
    this once the container's cgroups exist (``create``), or before a join
    (``exec``); the wait then runs while the init is forked and sets up, and
    ``apply`` finds the lock warm. Failures are ignored: this only saves time.
    ``_thread``, not ``threading`` (~2 ms to import); the thread never forks or
    unshares, and the children of ``fork`` have only the calling thread (its fd is
    close-on-exec).
    """
    own = _own_cgroups() if own is None else own
    if unified is None:
        unified = is_unified(root)
    if unified:
        target = root + own.get("", "/") + "/cgroup.procs"
    else:
        controller = next((c for c in V1_CONTROLLERS if c in own), None)
        if controller is None:
            return
        target = f"{root}/{controller.removeprefix('name=')}{own[controller]}/cgroup.procs"

    def write() -> None:
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, b"0")  # 0: the writer's own process
            finally:
                os.close(fd)
        except OSError:
            pass

    import _thread

    _thread.start_new_thread(write, ())


def from_paths(paths: dict[str, str]) -> CgroupManager | None:
    """The manager of a container from the paths saved in its state."""
    if not paths:
        return None
    if "" in paths:
        return CgroupV2(paths[""])
    return CgroupV1(paths)
