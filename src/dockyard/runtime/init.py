"""The container side of ``create``: bootstrap, then the init that execs the user process.

``bootstrap`` runs in the child forked by ``create``: it makes itself
non-dumpable, joins or unshares the namespaces and forks again so that the
init is PID 1 of the new PID namespace, then exits, leaving the init orphaned
(it reparents to the caller's subreaper). ``container_init``'s body is the
list of steps in runc's ``standard_init_linux.go`` order. Both report over a
:class:`~.sync.Channel` (see that module for the messages).
"""

from __future__ import annotations

import os
import stat

from . import console, exechelper, rootfs
from .capabilities import apply_capabilities, drop_bounding, last_cap
from .signals import reset_for_exec
from .spec import Spec
from .sync import Channel
from .syscalls import (
    CLONE_NEWCGROUP,
    CLONE_NEWNET,
    CLONE_NEWUSER,
    NAMESPACE_FLAGS,
    PR_SET_DUMPABLE,
    PR_SET_KEEPCAPS,
    PR_SET_NO_NEW_PRIVS,
    Syscall,
)

__all__ = [
    "InitConfig",
    "bootstrap",
    "container_init",
    "preload",
    "lookup_executable",
    "ExecLookupError",
    "env_dict",
    "home_dir",
]

# Order matters when joining: the user namespace first gives the rights for the others.
_JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "mount", "cgroup", "time")
# Hook lists run by the create process (runtime namespace) and by the init (container's).
_PARENT_HOOKS = ("prestart", "createRuntime")
_INIT_HOOKS = ("createContainer", "startContainer")


class ExecLookupError(OSError):
    """``process.args[0]`` could not be found; message as Go's ``exec.LookPath``."""


def env_dict(env: list[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in env:
        key, sep, value = item.partition("=")
        if key:
            result[key] = value if sep else ""
    return result


def home_dir(uid: int, passwd: str = "/etc/passwd") -> str:
    """The user's home from the container's passwd file, ``/`` if unknown (as runc)."""
    try:
        with open(passwd) as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 6 and fields[2] == str(uid):
                    return fields[5] or "/"
    except OSError:
        pass
    return "/"


def _executable(path: str, stat_fn) -> bool:
    try:
        st = stat_fn(path)
    except OSError:
        return False
    return not stat.S_ISDIR(st.st_mode) and bool(st.st_mode & 0o111)


def lookup_executable(name: str, path_env: str, stat_fn=os.stat) -> str:
    """Go's ``exec.LookPath`` semantics, in the calling process's root.

    A name with ``/`` is checked as is; otherwise each ``$PATH`` entry is
    tried in order. The error messages are runc's (the docker CLI maps
    "executable file not found" to exit 127 and "permission denied" to 126).
    """
    if "/" in name:
        try:
            st = stat_fn(name)
        except OSError as e:
            raise ExecLookupError(
                e.errno, f'exec: "{name}": stat {name}: {os.strerror(e.errno).lower()}'
            ) from None
        if stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o111:
            raise ExecLookupError(13, f'exec: "{name}": permission denied')
        return name
    for directory in path_env.split(":"):
        candidate = os.path.join(directory or ".", name)
        if _executable(candidate, stat_fn):
            return candidate
    raise ExecLookupError(2, f'exec: "{name}": executable file not found in $PATH')


def preload(process, console_fd: int = -1) -> None:
    """Import what ``exec_user_process`` (and the console) will need while the host's
    Python library is reachable: after pivot_root or setns(mount) it is not."""
    if process.rlimits:
        import resource  # noqa: F401
    if console_fd >= 0:
        console.preload()


def report_error(channel: Channel, e: BaseException) -> None:
    """Tell the parent why this child is about to exit (it may be gone already)."""
    try:
        channel.send("error", message=_error_text(e))
    except OSError:
        pass


def _error_text(e: BaseException) -> str:
    if isinstance(e, ExecLookupError):
        return e.strerror
    if isinstance(e, OSError):
        text = e.strerror or str(e)
        return f"{text}: {e.filename}" if e.filename else text
    return str(e) or type(e).__name__


class InitConfig:
    """What ``create`` hands the container's init, through ``bootstrap``: the kernel
    calls, the spec, the channel to the parent, the exec fifo, how many extra fds
    pass, the console (-1: none), the compiled seccomp filter (or None) and the
    container's cgroups (controller -> path in its hierarchy)."""

    __slots__ = (
        "sys",
        "spec",
        "channel",
        "exec_fifo",
        "extra_fds",
        "console_fd",
        "seccomp",
        "cgroups",
    )

    def __init__(
        self,
        sys: Syscall,
        spec: Spec,
        channel: Channel,
        exec_fifo: int,
        extra_fds: int,
        console_fd: int = -1,
        seccomp=None,
        cgroups: dict[str, str] | None = None,
    ):
        self.sys, self.spec, self.channel, self.exec_fifo = sys, spec, channel, exec_fifo
        self.extra_fds, self.console_fd, self.seccomp = extra_fds, console_fd, seccomp
        self.cgroups = cgroups


def bootstrap(init: InitConfig) -> None:
    """Child of ``create``: namespaces, then fork the init. Never returns.

    The parent moves the init into the container's cgroups while the init sets up
    its rootfs; a new cgroup namespace is unshared by the init once it is inside
    them (its root is the cgroup it is in at that moment), as runc does."""
    sys, spec, channel, console_fd = init.sys, init.spec, init.channel, init.console_fd
    code = 1
    try:
        sys.prctl(PR_SET_DUMPABLE, 0)
        joined = 0
        for kind in _JOIN_ORDER:
            ns = spec.namespace(kind)
            if ns is not None and ns.path:
                fd = os.open(ns.path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    sys.setns(fd, NAMESPACE_FLAGS[kind])
                finally:
                    os.close(fd)
                joined |= NAMESPACE_FLAGS[kind]
        user = spec.namespace("user")
        if user is not None:
            preload(spec.process, console_fd)  # once mapped, the host's library may be unreadable
        if user is not None and not user.path:
            sys.unshare(CLONE_NEWUSER)
            channel.send("userns", pid=os.getpid())
            channel.expect("userns-mapped")
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
        flags = 0
        for ns in spec.namespaces:
            if not ns.path and ns.type not in ("user", "cgroup"):
                flags |= NAMESPACE_FLAGS[ns.type]
        if flags:
            sys.unshare(flags)
        pid = os.fork()
        if pid == 0:
            container_init(init, new_net=bool(flags & CLONE_NEWNET))
        channel.send("pid", pid=pid)
        code = 0
    except BaseException as e:  # noqa: B036 - whatever happens, the parent must hear of it
        report_error(channel, e)
    finally:
        os._exit(code)


def _set_user(user) -> None:
    os.setgroups(user.additional_gids)
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)
    if user.umask is not None:
        os.umask(user.umask)


def container_init(init: InitConfig, new_net: bool) -> None:
    """PID 1 of the container: the set-up steps, in order, then exec. Never returns.

    The parent moves this process into ``init.cgroups`` meanwhile (``cgroups-joined``)."""
    sys, spec, channel, console_fd = init.sys, init.spec, init.channel, init.console_fd
    try:
        process = spec.process
        preload(process, console_fd)
        os.setsid()
        hooks = spec.hooks or {}
        state = None
        cgroupns = spec.namespace("cgroup")
        joined = False
        if any(hooks.get(n) for n in _PARENT_HOOKS + _INIT_HOOKS) or (
            cgroupns is not None and not cgroupns.path
        ):
            channel.expect("cgroups-joined")  # hooks run inside; cgroupns roots there
            joined = True
            if cgroupns is not None and not cgroupns.path:
                sys.unshare(CLONE_NEWCGROUP)
        if any(hooks.get(n) for n in _PARENT_HOOKS + _INIT_HOOKS):
            from .hooks import run_hooks  # before pivot_root, as every import

            channel.send("hooks")  # the parent runs prestart/createRuntime now
            state = channel.expect("hooks-done").get("state") or {}

        def create_container_hooks() -> None:
            if hooks.get("createContainer"):
                run_hooks("createContainer", hooks["createContainer"], state)

        def start_container_hooks() -> None:
            if hooks.get("startContainer"):
                run_hooks("startContainer", hooks["startContainer"], {**state, "status": "created"})

        if new_net:
            sys.set_link_up("lo")
        if spec.namespace("mount") is not None:
            rootfs.prepare_rootfs(
                sys,
                spec,
                create_cwd=process.cwd,
                before_pivot=create_container_hooks,
                cgroups=init.cgroups,
            )
        else:
            create_container_hooks()
        if console_fd >= 0:
            user = process.user
            console.setup_console(console_fd, process.console_size, user.uid, user.gid)
        if spec.namespace("mount") is not None:
            rootfs.finalize_rootfs(sys, spec)
        if spec.hostname and spec.namespace("uts") is not None:
            sys.sethostname(spec.hostname)
        if spec.domainname and spec.namespace("uts") is not None:
            sys.setdomainname(spec.domainname)
        for key, value in spec.sysctl.items():
            with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
                f.write(str(value))
        rootfs.readonly_paths(sys, spec.readonly_paths)
        rootfs.mask_paths(sys, spec.masked_paths)
        if spec.personality is not None:
            sys.personality(spec.personality)
        if not joined:
            channel.expect("cgroups-joined")  # nothing of the user's runs outside them
        exec_user_process(
            sys,
            process,
            channel,
            init.extra_fds,
            init.exec_fifo,
            init.seccomp,
            start_container_hooks,
        )
    except BaseException as e:  # noqa: B036 - report, never fall back into the runtime's code
        report_error(channel, e)
    os._exit(1)


def exec_user_process(
    sys: Syscall,
    process,
    channel: Channel,
    extra_fds: int,
    fifo: int | None,
    seccomp=None,
    before_exec=None,
) -> None:
    """The last steps, shared by the init and ``exec``: no_new_privs, limits, fds,
    bounding set, user, cwd, capabilities, lookup, ``ready``, (fifo), exec.

    ``seccomp`` (a compiled :class:`~.seccomp.Filter`) is loaded as runc does:
    without no_new_privs loading needs CAP_SYS_ADMIN, so before the capabilities
    are dropped; with it, as late as possible, just before ``execve``."""
    if process.no_new_privileges:
        sys.prctl(PR_SET_NO_NEW_PRIVS, 1)
    if process.oom_score_adj is not None:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(process.oom_score_adj))
    if process.rlimits:
        import resource  # an extension module: loaded only when needed

        for limit in process.rlimits:
            resource.setrlimit(limit.resource, (limit.soft, limit.hard))
    # nothing the caller leaked may reach the user process (CVE-2024-21626 class)
    sys.cloexec_from(3 + extra_fds)
    if seccomp is not None and not process.no_new_privileges:
        seccomp.load()
    last = last_cap()
    caps = process.capabilities
    if caps is not None:
        drop_bounding(sys, caps.bounding, last)
    sys.prctl(PR_SET_KEEPCAPS, 1)
    _set_user(process.user)
    sys.prctl(PR_SET_KEEPCAPS, 0)
    os.chdir(process.cwd)
    try:  # a cwd reached through a leaked fd is outside the root (CVE-2024-21626 class)
        os.getcwd()
    except FileNotFoundError:
        raise OSError(
            "current working directory is outside of container mount namespace root -- "
            "possible container breakout detected"
        ) from None
    if caps is not None:
        apply_capabilities(sys, caps, last)
    env = env_dict(process.env)
    if "HOME" not in env:
        env["HOME"] = home_dir(process.user.uid)
    path = lookup_executable(process.args[0], env.get("PATH", ""))
    channel.send("ready")
    channel.close()
    if fifo is not None:
        _wait_for_start(fifo)
    if before_exec is not None:
        before_exec()  # startContainer hooks: inside the container, after start
    reset_for_exec()  # nothing ignored or blocked that the daemon's start left (nohup)
    if seccomp is not None and process.no_new_privileges:
        seccomp.load()
    exechelper.execve(path, process.args, env)  # never the host's binary as /proc/self/exe


def _wait_for_start(exec_fifo: int) -> None:
    """Block until ``start`` opens the fifo for reading, then tell it we go."""
    fd = os.open(f"/proc/self/fd/{exec_fifo}", os.O_WRONLY | os.O_CLOEXEC)
    os.write(fd, b"0")
    os.close(fd)
    os.close(exec_fifo)
