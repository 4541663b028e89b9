"""``exec``: run one more process inside a running container.

The ``exec`` process forks a child that makes itself non-dumpable (so the
container cannot open the runtime's /proc/PID/exe or fds: CVE-2019-5736),
joins the container's cgroup, then every namespace of its init (user first,
mount last), and forks again so that the process is inside the PID
namespace. That grandchild leaves every host directory (``chdir`` to the
process cwd inside the container), marks all inherited fds close-on-exec,
sets user, capabilities and limits as ``container_init`` does, reports
``ready`` over the same :mod:`.sync` channel and execs. ``exec`` is the
subreaper of the process and, without ``--detach``, waits and returns its
exit code.
"""

from __future__ import annotations

import os

from . import jsontext
from .spec import SpecError, load_spec, parse_process
from .state import load_state
from .sync import Channel, SyncError

__all__ = ["exec_process", "ExecError"]

_JOIN_ORDER = ("user", "cgroup", "ipc", "uts", "network", "pid", "time", "mount")
_NS_FILE = {
    "user": "user",
    "cgroup": "cgroup",
    "ipc": "ipc",
    "uts": "uts",
    "network": "net",
    "pid": "pid",
    "time": "time",
    "mount": "mnt",
}


class ExecError(RuntimeError):
    """The process could not be started in the container."""


def build_process(
    bundle: str,
    process_json: str | None,
    args: list[str],
    tty: bool,
    cwd: str | None,
    env: list[str],
    user: str | None,
    caps: list[str],
    no_new_privs: bool,
):
    """The process to run: ``--process FILE`` as is, or the bundle's process edited like runc."""
    if process_json:
        with open(process_json, "rb") as f:
            return parse_process(jsontext.loads(f.read()), "process.json")
    if not args:
        raise SpecError("args must not be empty")
    raw = dict(load_spec(bundle).raw["process"])
    raw["args"] = args
    raw["terminal"] = tty
    if cwd:
        raw["cwd"] = cwd
    if env:
        raw["env"] = list(raw.get("env") or []) + env
    if user:
        uid, _, gid = user.partition(":")
        raw["user"] = {"uid": int(uid), "gid": int(gid or 0)}
    if caps:
        raw["capabilities"] = {
            k: list(v) + caps for k, v in (raw.get("capabilities") or {}).items()
        }
    if no_new_privs:
        raw["noNewPrivileges"] = True
    return parse_process(raw)


def exec_process(
    root: str,
    container_id: str,
    process,
    detach: bool,
    pid_file: str | None,
    console_socket: str | None,
    preserve_fds: int = 0,
) -> int:
    state = load_state(root, container_id)
    status = state.status()
    if status not in ("running", "created"):
        raise ExecError(f"cannot exec in a {status} container")
    if state.cgroup_paths:
        from .cgroups import warm_attach

        warm_attach()  # the child's cgroup join then finds the kernel's lock warm
    if process.terminal and not console_socket:
        raise ExecError("cannot allocate tty if runtime will detach without setting console socket")
    from .syscalls import PR_SET_CHILD_SUBREAPER, LinuxSyscall

    sys = LinuxSyscall()
    if not detach:
        sys.prctl(PR_SET_CHILD_SUBREAPER, 1)
    ns_fds = []
    for kind in _JOIN_ORDER:
        if kind in state.namespaces:
            path = f"/proc/{state.pid}/ns/{_NS_FILE[kind]}"
            ns_fds.append((kind, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
    if not state.running():  # the fds might name a reused pid's namespaces
        raise ExecError("container not running")
    console_fd = -1
    if console_socket:
        from .console import connect_console_socket

        console_fd = connect_console_socket(console_socket)
    seccomp = None
    section = load_spec(state.bundle).seccomp
    if section:
        from .seccomp import compile_filter

        # the container's filter applies to exec too
        seccomp = compile_filter(section, os.path.join(root, "seccomp"))
    c2p_r, c2p_w = os.pipe()
    p2c_r, p2c_w = os.pipe()
    from . import exechelper

    child = exechelper.fork()  # the process execs the user's program through it
    if child == 0:
        os.close(c2p_r)
        os.close(p2c_w)
        _join(sys, state, ns_fds, process, Channel(p2c_r, c2p_w), console_fd, preserve_fds, seccomp)
    os.close(c2p_w)
    os.close(p2c_r)
    for _, fd in ns_fds:
        os.close(fd)
    if console_fd >= 0:
        os.close(console_fd)
    channel = Channel(c2p_r, p2c_w)
    try:
        # The child's "pid" and the grandchild's "ready" share the pipe: either
        # may come first.
        first = channel.expect("pid", "ready")
        second = channel.expect("ready" if first["type"] == "pid" else "pid")
        pid = int((first if first["type"] == "pid" else second)["pid"])
    except SyncError as e:
        raise ExecError(f"exec failed: unable to start container process: {e}") from None
    finally:
        channel.close()
        os.waitpid(child, 0)
    if pid_file:
        from .container import _write_pid_file

        _write_pid_file(pid_file, pid)
    if detach:
        return 0
    import _signal

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in range(1, 32):
        if signum not in (9, 17, 19, 23):
            try:
                _signal.signal(signum, forward)
            except (OSError, ValueError):
                pass
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _join(
    sys, state, ns_fds, process, channel: Channel, console_fd: int, extra_fds: int, seccomp=None
) -> None:
    """The exec child: cgroup, namespaces, fork into the PID namespace. Never returns."""
    # everything imported now: after setns(mount) the host's library is out of reach
    from . import console
    from .cgroups import from_paths
    from .init import exec_user_process, preload, report_error
    from .syscalls import NAMESPACE_FLAGS, PR_SET_DUMPABLE

    preload(process, console_fd)
    code = 1
    try:
        sys.prctl(PR_SET_DUMPABLE, 0)
        manager = from_paths(state.cgroup_paths)
        if manager is not None:
            manager.apply(os.getpid())
        for kind, fd in ns_fds:
            sys.setns(fd, NAMESPACE_FLAGS[kind])
            os.close(fd)
        os.chdir("/")  # no host directory as cwd from here on
        pid = os.fork()
        if pid == 0:
            try:
                if console_fd >= 0:
                    os.setsid()  # TIOCSCTTY needs a session leader (runc does the same)
                    user = process.user
                    console.setup_console(console_fd, process.console_size, user.uid, user.gid)
                exec_user_process(sys, process, channel, extra_fds, None, seccomp)
            except BaseException as e:  # noqa: B036
                report_error(channel, e)
            os._exit(1)
        channel.send("pid", pid=pid)
        code = 0
    except BaseException as e:  # noqa: B036
        report_error(channel, e)
    finally:
        os._exit(code)
