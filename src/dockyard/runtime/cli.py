"""``dockyard-runtime``: runc's command line over :mod:`.container`.

Global flags come before the command (``--root``, ``--log``, ``--log-format``,
``--debug``, and runc's ``--systemd-cgroup``/``--rootless``/``--criu``
accepted and ignored). The parser is hand-written: ``argparse`` imports
``re`` and costs ~15 ms per call, and this program starts several times per
container. Errors go to stderr as one plain line (not logrus-quoted, so
``exec: "x": executable file not found in $PATH`` stays greppable), and to
``--log`` in text or json format; the exit code is 1.
"""

from __future__ import annotations

import os
import sys

__all__ = ["main", "UsageError"]

DEFAULT_ROOT = "/run/dockyard-runtime"
VERSION = "0.1.0"

USAGE = """usage: dockyard-runtime [global options] command [command options] [arguments...]

commands:
  create   create a container          (--bundle, --pid-file, --console-socket, --preserve-fds)
  start    execute the user process of a created container
  run      create and start a container (--bundle, --pid-file, --detach, --console-socket)
  state    output the state of a container
  kill     kill ID [SIGNAL] (default SIGTERM; --all)
  delete   delete [--force] ID
  list     list containers (--format table|json, --quiet)
  spec     create a new specification file (--bundle)
  exec     exec [--process FILE | ID ARGS...] (--tty, --console-socket, --detach, --pid-file,
           --cwd, --env K=V, --user UID[:GID], --cap CAP, --no-new-privs)
  pause    freeze every process of a container;  resume  thaw them
  update   update ID (--resources FILE|-, --memory, --memory-swap, --cpu-quota, --pids-limit...)
  events   events --stats ID: the container's resource usage (JSON)
  ps       ps ID [ps options] (--format table|json)
  features print what this runtime supports (JSON)

global options:
  --root DIR          state directory (default /run/dockyard-runtime)
  --log FILE          log file; --log-format text|json; --debug
"""


class UsageError(Exception):
    """Bad command line."""


# command -> {flag: takes_value}; short aliases map to long names.
_COMMAND_FLAGS: dict[str, dict[str, bool]] = {
    "create": {
        "bundle": True,
        "pid-file": True,
        "console-socket": True,
        "preserve-fds": True,
        "no-pivot": False,
        "no-new-keyring": False,
        "pidfd-socket": True,
    },
    "run": {
        "bundle": True,
        "pid-file": True,
        "console-socket": True,
        "preserve-fds": True,
        "detach": False,
        "no-pivot": False,
        "no-new-keyring": False,
        "keep": False,
        "no-subreaper": False,
        "pidfd-socket": True,
    },
    "start": {},
    "state": {},
    "exec": {
        "process": True,
        "tty": False,
        "console-socket": True,
        "detach": False,
        "pid-file": True,
        "cwd": True,
        "env": True,
        "user": True,
        "cap": True,
        "no-new-privs": False,
        "preserve-fds": True,
        "additional-gids": True,
        "process-label": True,
        "apparmor": True,
        "ignore-paused": False,
        "cgroup": True,
    },
    "pause": {},
    "resume": {},
    "update": {
        "resources": True,
        "r": True,
        "memory": True,
        "memory-swap": True,
        "memory-reservation": True,
        "kernel-memory": True,
        "cpu-share": True,  # runc's spelling
        "cpu-shares": True,
        "cpu-quota": True,
        "cpu-period": True,
        "cpuset-cpus": True,
        "cpuset-mems": True,
        "pids-limit": True,
        "blkio-weight": True,
    },
    "events": {"stats": False, "interval": True},
    "ps": {"format": True},
    "features": {},
    "kill": {"all": False},
    "delete": {"force": False},
    "list": {"format": True, "quiet": False},
    "spec": {"bundle": True, "rootless": False},
}
_SHORT = {
    "b": "bundle",
    "d": "detach",
    "a": "all",
    "f": "force",
    "q": "quiet",
    "p": "process",
    "t": "tty",
    "e": "env",
    "u": "user",
    "c": "cap",
}
_REPEATABLE = {"env", "cap"}
_GLOBAL_FLAGS = {
    "root": True,
    "log": True,
    "log-format": True,
    "debug": False,
    "systemd-cgroup": False,
    "rootless": True,
    "criu": True,
}


def _parse_flags(args: list[str], known: dict[str, bool], stop_at_positional: bool):
    """-> (flags, rest). ``--x=v``, ``--x v``, ``-x v``; ``--`` ends flags."""
    flags: dict[str, str | bool] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i + 1 :])
            break
        if not arg.startswith("-") or arg == "-":
            if stop_at_positional:
                rest.extend(args[i:])
                break
            rest.append(arg)
            i += 1
            continue
        name, eq, value = arg.lstrip("-").partition("=")
        name = _SHORT.get(name, name)
        if name in ("h", "help"):
            raise UsageError("")
        if name not in known:
            raise UsageError(f"flag provided but not defined: -{name}")
        if known[name]:
            if not eq:
                i += 1
                if i >= len(args):
                    raise UsageError(f"flag needs an argument: -{name}")
                value = args[i]
            if name in _REPEATABLE:
                flags.setdefault(name, []).append(value)
            else:
                flags[name] = value
        else:
            flags[name] = value.lower() not in ("false", "0") if eq else True
        i += 1
    return flags, rest


class _Log:
    """runc's ``--log``/``--log-format``: append one line per error."""

    def __init__(self, path: str | None, fmt: str):
        self.path, self.fmt = path, fmt

    def error(self, message: str) -> None:
        if not self.path:
            return
        from . import jsontext
        from .state import now_rfc3339

        when = now_rfc3339()
        if self.fmt == "json":
            line = jsontext.dumps({"level": "error", "msg": message, "time": when})
        else:
            line = f"time={jsontext.dumps(when)} level=error msg={jsontext.dumps(message)}"
        try:
            with open(self.path, "a") as f:
                f.write(line + "\n")
        except OSError:
            pass


def _one_id(rest: list[str], command: str) -> str:
    if len(rest) != 1:
        raise UsageError(f'"{command}" requires exactly 1 argument(s)')
    return rest[0]


def _list(root: str, flags: dict) -> int:
    from . import jsontext
    from .state import list_ids, load_state

    states = []
    for container_id in list_ids(root):
        try:
            states.append(load_state(root, container_id))
        except Exception:
            continue
    if flags.get("quiet"):
        for s in states:
            print(s.id)
        return 0
    rows = []
    for s in states:
        doc = s.oci_state()
        uid = os.stat(s.dir).st_uid
        doc["owner"] = "root" if uid == 0 else f"#{uid}"
        rows.append(doc)
    fmt = flags.get("format", "table")
    if fmt == "json":
        print(
            jsontext.dumps(
                [{k: v for k, v in d.items() if k != "annotations"} for d in rows] or None
            )
        )
        return 0
    if fmt != "table":
        raise UsageError(f"invalid format option: {fmt}")
    table = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
    for d in rows:
        table.append([d["id"], str(d["pid"]), d["status"], d["bundle"], d["created"], d["owner"]])
    # Go's tabwriter(minwidth=12, tabwidth=1, padding=3): every column but the last padded
    widths = [max(12, max(len(r[c]) for r in table) + 3) for c in range(5)]
    for r in table:
        print("".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)) + r[5])
    return 0


def _spec(flags: dict) -> int:
    from . import jsontext
    from .spec import default_spec

    path = os.path.join(str(flags.get("bundle") or "."), "config.json")
    if os.path.exists(path):
        raise UsageError("File config.json exists. Remove it first.")
    with open(path, "w") as f:
        f.write(jsontext.dumps(default_spec(), indent=2))
    return 0


def dispatch(argv: list[str]) -> int:
    gflags, rest = _parse_flags(argv, _GLOBAL_FLAGS | {"version": False, "v": False}, True)
    if gflags.get("version") or gflags.get("v"):
        print(f"dockyard-runtime version {VERSION}\nspec: 1.1.0")
        return 0
    if not rest:
        raise UsageError("")
    command, rest = rest[0], rest[1:]
    root = os.path.abspath(str(gflags.get("root") or DEFAULT_ROOT))
    if command not in _COMMAND_FLAGS:
        raise UsageError(f"No help topic for '{command}'")
    # exec: flags end at the container id; what follows is the command line
    flags, rest = _parse_flags(rest, _COMMAND_FLAGS[command], command == "exec")
    from . import container

    if command == "state":
        sys.stdout.write(container.state_json(root, _one_id(rest, command)))
        return 0
    if command == "start":
        container.start(root, _one_id(rest, command))
        return 0
    if command == "kill":
        if not 1 <= len(rest) <= 2:
            raise UsageError('"kill" requires a minimum of 1 and a maximum of 2 arguments')
        from .signals import parse_signal

        signum = parse_signal(rest[1] if len(rest) > 1 else "SIGTERM")
        container.kill(root, rest[0], signum, bool(flags.get("all")))
        return 0
    if command == "delete":
        container.delete(root, _one_id(rest, command), bool(flags.get("force")))
        return 0
    if command == "list":
        return _list(root, flags)
    if command == "spec":
        return _spec(flags)
    if command in ("pause", "resume"):
        getattr(container, command)(root, _one_id(rest, command))
        return 0
    if command == "ps":
        return _ps(root, rest, flags)
    if command == "update":
        from .update import resources_from_flags

        container.update(root, _one_id(rest, command), resources_from_flags(flags))
        return 0
    if command == "events":
        return _events(root, _one_id(rest, command), flags)
    if command == "features":
        from . import jsontext
        from .features import features

        print(jsontext.dumps(features(), indent=4))
        return 0
    if command == "exec":
        return _exec(root, rest, flags)
    container_id = _one_id(rest, command)
    console_socket = str(flags.get("console-socket") or "") or None
    bundle = str(flags.get("bundle") or ".")
    pid_file = flags.get("pid-file") or None
    preserve = int(flags.get("preserve-fds") or 0)
    if command == "create":
        container.create(
            root, container_id, bundle, pid_file, preserve, console_socket=console_socket
        )
        return 0
    return container.run(
        root,
        container_id,
        bundle,
        pid_file,
        bool(flags.get("detach")),
        preserve,
        console_socket=console_socket,
    )


def _exec(root: str, rest: list[str], flags: dict) -> int:
    if not rest or (not flags.get("process") and len(rest) < 2):
        raise UsageError('"exec" requires a minimum of 2 arguments')
    from .execute import build_process, exec_process
    from .state import load_state

    container_id, args = rest[0], rest[1:]
    process = build_process(
        load_state(root, container_id).bundle,
        str(flags.get("process") or "") or None,
        args,
        bool(flags.get("tty")),
        str(flags.get("cwd") or "") or None,
        list(flags.get("env") or []),
        str(flags.get("user") or "") or None,
        list(flags.get("cap") or []),
        bool(flags.get("no-new-privs")),
    )
    return exec_process(
        root,
        container_id,
        process,
        bool(flags.get("detach")),
        str(flags.get("pid-file") or "") or None,
        str(flags.get("console-socket") or "") or None,
        int(flags.get("preserve-fds") or 0),
    )


def _events(root: str, container_id: str, flags: dict) -> int:
    """``events --stats`` prints one stats event; without it, one every --interval (5s)."""
    from . import jsontext
    from .container import stats

    if flags.get("stats"):
        print(jsontext.dumps(stats(root, container_id)))
        return 0
    import gc
    import time

    gc.enable()  # this one runs for long
    interval = float(str(flags.get("interval") or "5s").rstrip("s"))
    while True:
        try:
            event = stats(root, container_id)
        except Exception:
            return 0
        print(jsontext.dumps(event), flush=True)
        time.sleep(interval)


def _ps(root: str, rest: list[str], flags: dict) -> int:
    if not rest:
        raise UsageError('"ps" requires a minimum of 1 argument')
    from . import jsontext
    from .container import container_pids
    from .state import load_state

    state = load_state(root, rest[0])
    pids = container_pids(state) if state.running() else []
    if flags.get("format") == "json":
        print(jsontext.dumps(pids))
        return 0
    import subprocess

    out = subprocess.run(["ps", *(rest[1:] or ["-ef"])], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    if not lines:
        return 0
    column = lines[0].split().index("PID")
    print(lines[0])
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > column and fields[column].isdigit() and int(fields[column]) in pids:
            print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line; as a program (``argv`` None) it ends with ``os._exit``."""
    import gc

    # a short-lived process: a collection would only touch (and, after fork, copy) pages
    gc.disable()
    if argv is not None:
        return _main(argv)
    code = _main(sys.argv[1:])
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        pass
    # no interpreter teardown (~3 ms): nothing of ours is registered atexit
    os._exit(code)


def _main(argv: list[str]) -> int:
    gflags: dict = {}
    try:
        gflags, _ = _parse_flags(argv, _GLOBAL_FLAGS | {"version": False, "v": False}, True)
    except UsageError:
        pass
    log = _Log(gflags.get("log"), str(gflags.get("log-format") or "text"))
    try:
        return dispatch(argv)
    except UsageError as e:
        if not str(e):
            sys.stdout.write(USAGE)
            return 0 if "-h" in argv or "--help" in argv else 1
        sys.stderr.write(f"{e}\n")
        log.error(str(e))
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        message = _message(e)
        sys.stderr.write(message + "\n")
        log.error(message)
        from .execute import ExecError

        # runc's exit code when exec cannot start the process
        return 255 if isinstance(e, ExecError) else 1


def _message(e: Exception) -> str:
    if isinstance(e, OSError) and e.strerror:
        return f"{e.strerror}: {e.filename}" if e.filename else e.strerror
    return str(e)
