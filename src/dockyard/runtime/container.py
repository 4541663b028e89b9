"""Container life cycle as runc's commands do it: create, start, run, kill, delete, state, list.

The caller of ``create`` (the monitor, as containerd's shim) is expected to
be a child subreaper: the bootstrap child exits once the init is forked, so
the init is an orphan that reparents to it. ``run`` without ``--detach``
makes itself the subreaper, waits, forwards signals and deletes. Errors are
:class:`ContainerError` with runc's wording; the CLI prints them and exits 1.
"""

from __future__ import annotations

import _signal
import os

from . import jsontext
from .signals import SIGNALS
from .state import (
    EXEC_FIFO,
    ContainerState,
    StateError,
    container_dir,
    load_state,
    now_rfc3339,
    process_alive,
    process_start_time,
)

TYPE_CHECKING = False  # typing's own costs ~20 ms to import
if TYPE_CHECKING:
    from .spec import Spec

__all__ = [
    "ContainerError",
    "preload",
    "create",
    "start",
    "run",
    "kill",
    "delete",
    "destroy",
    "container_pids",
    "join_cgroups",
]

SIGKILL = SIGNALS["SIGKILL"]
_LATER_HOOKS = ("poststart", "poststop")
# How long a failed cgroup join waits for the init's error (it has exited or is exiting).
_INIT_ERROR_WAIT = 2.0
_NO_FORWARD = {SIGNALS[n] for n in ("SIGKILL", "SIGSTOP", "SIGCHLD", "SIGURG")}


def preload() -> None:
    """Import what ``create`` (and ``exec``) load on first use, for a process that
    forks and calls the runtime in-process (the monitor's zygote): its children then
    start warm. A CLI command imports only what it runs."""
    import fcntl  # noqa: F401  (the exec helper's seals)
    import resource  # noqa: F401  (rlimits)
    import select  # noqa: F401  (start)
    import struct  # noqa: F401  (its ELF header)

    from . import cgroups, exechelper, init, libc, rootfs, seccomp  # noqa: F401


class ContainerError(RuntimeError):
    """A user-facing failure of a runtime command (printed as is, exit 1)."""


def _write_pid_file(path: str, pid: int) -> None:
    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path))
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, path)


def _write_id_maps(pid: int, spec: Spec) -> None:
    def lines(maps: list[dict]) -> str:
        return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in maps)

    with open(f"/proc/{pid}/setgroups", "w") as f:
        f.write("allow")
    with open(f"/proc/{pid}/uid_map", "w") as f:
        f.write(lines(spec.uid_mappings))
    with open(f"/proc/{pid}/gid_map", "w") as f:
        f.write(lines(spec.gid_mappings))


def create(
    root: str,
    container_id: str,
    bundle: str,
    pid_file: str | None = None,
    preserve_fds: int = 0,
    subreaper: bool = False,
    verb: str = "create",
    console_socket: str | None = None,
) -> ContainerState:
    """Set the container up to the point where ``start`` lets it exec."""
    # (here, not at the top: start, state, kill and delete need neither)
    from .spec import load_spec, validate_container_id
    from .sync import Channel, SyncError

    validate_container_id(container_id)
    spec = load_spec(bundle)
    if console_socket and not spec.process.terminal:
        raise ContainerError("cannot use console socket if runtime will not allocate a terminal")
    if spec.process.terminal and not console_socket:
        raise ContainerError(
            "cannot allocate tty if runtime will detach without setting console socket"
        )
    os.makedirs(root, mode=0o711, exist_ok=True)
    state_dir = container_dir(root, container_id)
    try:
        os.mkdir(state_dir, 0o711)
    except FileExistsError:
        raise ContainerError(f"container with id exists: {container_id}") from None
    init_pid = 0
    manager = None
    try:
        from .cgroups import new_manager, warm_attach

        manager = new_manager(spec.cgroups_path, container_id)
        manager.create(spec.resources)
        warm_attach(own=manager.own)
        fifo = os.path.join(state_dir, EXEC_FIFO)
        os.mkfifo(fifo, 0o622)
        os.chmod(fifo, 0o622)  # past the umask: a non-root init must be able to open it
        fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
        console_fd = -1
        if console_socket:
            from .console import connect_console_socket

            console_fd = connect_console_socket(console_socket)
        seccomp = None
        if spec.seccomp:
            from .seccomp import compile_filter

            seccomp = compile_filter(spec.seccomp, os.path.join(root, "seccomp"))
        c2p_r, c2p_w = os.pipe()
        p2c_r, p2c_w = os.pipe()
        from .syscalls import PR_SET_CHILD_SUBREAPER, LinuxSyscall

        sys = LinuxSyscall()
        # a send to an init that died must raise (its error follows), not kill us: the
        # monitor calls us in-process with SIGPIPE at its default
        try:
            _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)
        except ValueError:
            pass  # called from a thread other than the main one: leave it as it is
        if subreaper:
            sys.prctl(PR_SET_CHILD_SUBREAPER, 1)
        from . import exechelper

        child = exechelper.fork()  # the init execs the user's program through it
        if child == 0:
            os.close(c2p_r)
            os.close(p2c_w)
            from .init import InitConfig, bootstrap

            bootstrap(
                InitConfig(
                    sys,
                    spec,
                    Channel(p2c_r, c2p_w),
                    fifo_fd,
                    preserve_fds,
                    console_fd,
                    seccomp,
                    manager.hierarchy_paths(),
                )
            )
        os.close(c2p_w)
        os.close(p2c_r)
        os.close(fifo_fd)
        if console_fd >= 0:
            os.close(console_fd)
        channel = Channel(c2p_r, p2c_w)
        try:
            hooks_asked = False
            while True:
                message = channel.expect("userns", "pid", "hooks", "ready")
                kind = message["type"]
                if kind == "ready":
                    break
                if kind == "userns":
                    _write_id_maps(int(message["pid"]), spec)
                    channel.send("userns-mapped")
                elif kind == "pid":
                    init_pid = int(message["pid"])
                    join_cgroups(manager, init_pid, channel)
                else:
                    hooks_asked = True
                if hooks_asked and init_pid:  # "hooks" may come before "pid"
                    hooks_asked = False
                    channel.send("hooks-done", state=_create_hooks(spec, container_id, init_pid))
        finally:
            channel.close()
            os.waitpid(child, 0)
        state = ContainerState(
            root,
            container_id,
            pid=init_pid,
            pid_start=process_start_time(init_pid),
            bundle=spec.bundle,
            rootfs=spec.root_path,
            created=now_rfc3339(),
            annotations=spec.annotations,
            namespaces=[ns.type for ns in spec.namespaces],
            cgroup_paths=manager.paths(),
            # as runc keeps the config: start and delete need not read the bundle again
            extra={"hooks": {k: spec.hooks[k] for k in _LATER_HOOKS if spec.hooks.get(k)}},
        )
        state.save()
        if pid_file:
            _write_pid_file(pid_file, init_pid)
        return state
    except BaseException as e:
        if init_pid:
            try:
                os.kill(init_pid, SIGKILL)
            except ProcessLookupError:
                pass
            _wait_exit(init_pid, None)
        if manager is not None:
            try:
                manager.destroy()
            except Exception:
                pass
        _remove_dir(state_dir)
        if isinstance(e, SyncError):
            raise ContainerError(
                f"dockyard-runtime {verb} failed: unable to start container process: {e}"
            ) from None
        raise


def join_cgroups(manager, pid: int, channel) -> None:
    """Move the init into the container's cgroups and tell it so.

    The init sets its rootfs up meanwhile (the first cgroup.procs write of a v1 host
    waits out an RCU grace period, 10-25 ms here), so it may already have failed and
    exited: then the write fails with ESRCH, and the init's own error, which is the
    cause, is what the user must see."""
    from .cgroups import CgroupError

    try:
        manager.apply(pid)
    except CgroupError:
        reason = channel.pending_error(_INIT_ERROR_WAIT)
        if reason is not None:
            raise reason from None
        raise
    try:
        channel.send("cgroups-joined")
    except BrokenPipeError:
        pass  # the init is gone: its "error" (or EOF) comes next


def _create_hooks(spec: Spec, container_id: str, pid: int) -> dict:
    """prestart and createRuntime, in the runtime's namespaces; the state for the init's."""
    from .hooks import run_hooks, state_document

    state = state_document(container_id, pid, "creating", spec.bundle, spec.annotations)
    for name in ("prestart", "createRuntime"):
        if spec.hooks.get(name):
            run_hooks(name, spec.hooks[name], state)
    return state


def _later_hooks(state: ContainerState, name: str) -> list:
    """poststart or poststop hooks: saved by ``create``, else (older state) the bundle's."""
    saved = state.extra.get("hooks")
    if isinstance(saved, dict):
        return saved.get(name) or []
    return _bundle_hooks(state.bundle, name)


def _bundle_hooks(bundle: str, name: str) -> list:
    """One hook list from the bundle's config.json (missing file or list: none)."""
    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            raw = jsontext.loads(f.read())
    except (OSError, jsontext.JSONError):
        return []
    hooks = raw.get("hooks") if isinstance(raw, dict) else None
    return (hooks or {}).get(name) or [] if isinstance(hooks, dict) else []


def _remove_dir(path: str) -> None:
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return
    for name in names:
        try:
            os.unlink(os.path.join(path, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


def start(root: str, container_id: str, state: ContainerState | None = None) -> ContainerState:
    """Release a created container's init: open exec.fifo for reading."""
    state = state or load_state(root, container_id)
    status = state.status()
    if status == "stopped":
        raise ContainerError("cannot start a container that has stopped")
    if status != "created":
        raise ContainerError("cannot start an already running container")
    import select

    fd = os.open(state.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP)
        while not poller.poll(100):
            if not state.running():
                raise ContainerError("container init exited before start")
        if os.read(fd, 1) != b"0":
            raise ContainerError("cannot start an already running container")
    finally:
        os.close(fd)
    try:
        os.unlink(state.fifo)
    except FileNotFoundError:
        pass
    poststart = _later_hooks(state, "poststart")
    if poststart:
        from .hooks import HookError, run_hooks, state_document

        # runc reports "created" here: the state as it was when start began
        doc = state_document(state.id, state.pid, "created", state.bundle, state.annotations)
        try:
            run_hooks("poststart", poststart, doc)
        except HookError as e:
            destroy(state, kill_first=True)
            raise ContainerError(str(e)) from None
    return state


def run(
    root: str,
    container_id: str,
    bundle: str,
    pid_file: str | None = None,
    detach: bool = False,
    preserve_fds: int = 0,
    console_socket: str | None = None,
) -> int:
    """create + start; without ``detach``, wait, delete and return the exit code."""
    state = create(
        root,
        container_id,
        bundle,
        pid_file,
        preserve_fds,
        not detach,
        verb="run",
        console_socket=console_socket,
    )
    try:
        start(root, container_id, state)
    except BaseException:
        destroy(state, kill_first=True)
        raise
    if detach:
        return 0
    import _signal

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(state.pid, signum)
        except ProcessLookupError:
            pass

    for signum in range(1, 32):
        if signum not in _NO_FORWARD:
            try:
                _signal.signal(signum, forward)
            except (OSError, ValueError):
                pass
    _, status = os.waitpid(state.pid, 0)
    destroy(state)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def container_pids(state: ContainerState) -> list[int]:
    """Every process of the container: its cgroup if it has one, else its PID namespace."""
    manager = _manager(state)
    if manager is not None:
        try:
            return manager.pids()
        except OSError:
            pass
    try:
        target = os.stat(f"/proc/{state.pid}/ns/pid").st_ino
    except OSError:
        return []
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}/ns/pid").st_ino == target:
                    pids.append(int(name))
            except OSError:
                continue
    return pids


def _manager(state: ContainerState):
    from .cgroups import from_paths

    return from_paths(state.cgroup_paths)


def pause(root: str, container_id: str) -> None:
    state = load_state(root, container_id)
    status = state.status()
    if status not in ("running", "created"):
        raise ContainerError(
            "container not running" if status == "stopped" else "container already paused"
        )
    manager = _manager(state)
    if manager is None:
        raise ContainerError("container has no cgroup to freeze")
    manager.freeze()


def resume(root: str, container_id: str) -> None:
    state = load_state(root, container_id)
    if state.status() != "paused":
        raise ContainerError("container not paused")
    _manager(state).thaw()


def update(root: str, container_id: str, resources: dict) -> None:
    """``update``: new ``linux.resources`` for a running (or paused, created) container."""
    state = load_state(root, container_id)
    if state.status() == "stopped":
        raise ContainerError("container not running")
    manager = _manager(state)
    if manager is None:
        raise ContainerError("container has no cgroup to update")
    manager.set(resources)


def stats(root: str, container_id: str) -> dict:
    """``events --stats``: one runc-style stats event."""
    state = load_state(root, container_id)
    if state.status() == "stopped":
        raise ContainerError("container not running")
    manager = _manager(state)
    raw = manager.stats() if manager is not None else {}
    memory = raw.get("memory") or {}
    data = {  # runc's shape (types.Stats)
        "cpu": raw.get("cpu") or {},
        "memory": {
            "usage": {
                "usage": memory.get("usage"),
                "max": memory.get("max_usage"),
                "limit": memory.get("limit"),
            }
        },
        "pids": raw.get("pids") or {},
    }
    return {"type": "stats", "id": container_id, "data": data}


def kill(root: str, container_id: str, signum: int, all_processes: bool = False) -> None:
    state = load_state(root, container_id)
    if not state.running():
        raise ContainerError("container not running")
    targets = container_pids(state) if all_processes else [state.pid]
    for pid in targets:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass
    if signum == SIGKILL:
        _thaw(state)  # frozen tasks die only once thawed


def _thaw(state: ContainerState) -> None:
    manager = _manager(state)
    if manager is not None and state.status() == "paused":
        manager.thaw()


def _wait_exit(pid: int, start_time: int | None, timeout_ms: int = 10_000) -> None:
    """Wait until ``pid`` has exited (zombie counts): we are not its parent."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if not process_alive(pid, start_time):
            return
        import select

        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(timeout_ms):
            raise ContainerError(f"container init {pid} still running after SIGKILL")
    finally:
        os.close(pidfd)


def destroy(state: ContainerState, kill_first: bool = False) -> None:
    """Kill (if asked), release cgroups and remove the state directory."""
    if kill_first and state.running():
        try:
            os.kill(state.pid, SIGKILL)
        except ProcessLookupError:
            pass
        _thaw(state)
        _wait_exit(state.pid, state.pid_start)
    manager = _manager(state)
    if manager is not None:
        manager.destroy()
    poststop = _later_hooks(state, "poststop")
    if poststop:
        import sys

        from .hooks import run_hooks, state_document

        doc = state_document(state.id, 0, "stopped", state.bundle, state.annotations)
        for warning in run_hooks("poststop", poststop, doc, strict=False):
            sys.stderr.write(warning + "\n")
    _remove_dir(state.dir)


def delete(root: str, container_id: str, force: bool = False) -> None:
    try:
        state = load_state(root, container_id)
    except StateError:
        if force:
            _remove_dir(container_dir(root, container_id))
            return
        raise
    status = state.status()
    if status == "stopped":
        destroy(state)
    elif status == "created" or force:
        destroy(state, kill_first=True)
    else:
        raise ContainerError(
            f"cannot delete container {container_id} that is not stopped: {status}"
        )


def state_json(root: str, container_id: str) -> str:
    return jsontext.dumps(load_state(root, container_id).oci_state(), indent=2)
