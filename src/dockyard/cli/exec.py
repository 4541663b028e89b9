"""`dockyard exec` and `dockyard attach`: docker's, over /containers/{id}/exec,
/exec/{id}/start (hijacked), /exec/{id}/json and /containers/{id}/attach.
The exit status is the process's (from the exec's inspect)."""

from __future__ import annotations

import sys
import threading

from dockyard.cli.flags import BOOL, ENV, INTERACTIVE, LIST, STRING, TTY, WORKDIR, Command, Flag
from dockyard.cli.main import Cli, command_table, handles
from dockyard.client.errors import APIError
from dockyard.client.http import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_DETACH_KEYS = Flag(
    "detach-keys", "", STRING, "Override the key sequence for detaching a container"
)
EXEC = Command(
    "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
    "Execute a command in a running container",
    (
        Flag("detach", "d", BOOL, "Detached mode: run command in the background"),
        _DETACH_KEYS,
        ENV,
        Flag("env-file", "", LIST, "Read in a file of environment variables", metavar="list"),
        INTERACTIVE,
        Flag("privileged", "", BOOL, "Give extended privileges to the command"),
        TTY,
        Flag("user", "u", STRING, 'Username or UID (format: "<name|uid>[:<group|gid>]")'),
        WORKDIR,
    ),
    min_args=2,
    interspersed=False,
)

ATTACH = Command(
    "attach [OPTIONS] CONTAINER",
    "Attach local standard input, output, and error streams to a running container",
    (
        _DETACH_KEYS,
        Flag("no-stdin", "", BOOL, "Do not attach STDIN"),
    ),
    min_args=1,
    max_args=1,
)


def _session(cli: Cli, stream: Any, tty: bool, stdin: bool, keys: str | None) -> bool:
    """Relay until the daemon closes the stream; True if the user detached."""
    from dockyard.cli.attach import RawTerminal, copy_output
    from dockyard.cli.terminal import end, pump_stdin

    terminal = RawTerminal(tty and stdin)
    detached = threading.Event()
    try:
        if stdin:

            def pump() -> None:
                if pump_stdin(stream, keys, watch=tty and sys.stdin.isatty()):
                    detached.set()
                    end(stream)

            threading.Thread(target=pump, daemon=True).start()
        copy_output(stream, tty)
    finally:
        terminal.restore()
    return detached.is_set()


@handles(EXEC)
def exec_(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.terminal import follow_size, size

    container, cmd = args[0], args[1:]
    detach = opts["detach"]
    from dockyard.cli.runspecs import _env

    try:
        env = _env(opts) or []
    except ValueError as e:
        cli.err(f"{e}\n")
        return 125
    body = {
        "User": opts["user"] or "",
        "Privileged": opts["privileged"],
        "Tty": opts["tty"],
        "AttachStdin": opts["interactive"] and not detach,
        "AttachStdout": not detach,
        "AttachStderr": not detach,
        "DetachKeys": opts["detach_keys"] or "",
        "Env": env,
        "WorkingDir": opts["workdir"] or "",
        "Cmd": cmd,
    }
    if opts["tty"] and size():
        body["ConsoleSize"] = list(size() or (0, 0))
    try:
        eid = cli.client.post(f"/containers/{quote(container)}/exec", json_body=body)["Id"]
        if detach:
            cli.client.post(f"/exec/{eid}/start", json_body={"Detach": True, "Tty": opts["tty"]})
            return 0
        start = {"Detach": False, "Tty": opts["tty"]}
        stream = cli.client.hijack(f"/exec/{eid}/start", json_body=start)
    except APIError as e:
        cli.err(f"Error response from daemon: {e.message}\n")
        return 126 if "OCI runtime exec failed" in e.message else 1
    if opts["tty"]:
        follow_size(lambda h, w: cli.client.post(f"/exec/{eid}/resize", {"h": h, "w": w}))
    _session(cli, stream, opts["tty"], opts["interactive"], opts["detach_keys"])
    stream.close()
    info = cli.client.get(f"/exec/{eid}/json")
    return int(info.get("ExitCode") or 0)


@handles(ATTACH)
def attach(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.terminal import follow_size

    path = f"/containers/{quote(args[0])}"
    info = cli.client.get(f"{path}/json")
    if not info["State"].get("Running"):
        cli.err("You cannot attach to a stopped container, start it first\n")
        return 1
    tty = bool(info["Config"].get("Tty"))
    stdin = bool(info["Config"].get("OpenStdin")) and not opts["no_stdin"]
    params: dict[str, Any] = {"stream": True, "stdout": True, "stderr": True, "stdin": stdin}
    if opts["detach_keys"]:
        params["detachKeys"] = opts["detach_keys"]
    stream = cli.client.hijack(f"{path}/attach", params)
    if tty:
        follow_size(lambda h, w: cli.client.post(f"{path}/resize", {"h": h, "w": w}))
    if _session(cli, stream, tty, stdin, opts["detach_keys"]):
        cli.err("read escape sequence\n")
        return 1
    stream.close()
    info = cli.client.get(f"{path}/json")
    return int(info["State"].get("ExitCode") or 0)


COMMANDS = command_table(exec_, attach)
