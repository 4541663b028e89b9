"""Container commands: run, create, start, ps, logs, stop, kill, rm, restart, wait.

`run` follows the docker CLI's sequence: create (pulling on a 404 for the
image), attach (hijacked, before start so no output is lost), wait (its
headers are read before start, so the exit cannot be missed), start, copy
the streams, exit with the container's status.
"""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import BOOL, INT, LIST, STRING, Command, Flag
from dockyard.cli.main import Cli
from dockyard.client.errors import APIError, ClientError
from dockyard.client.http import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# -- flags shared by run and create ---------------------------------------------
_CREATE_FLAGS = (
    Flag("attach", "a", LIST, "Attach to STDIN, STDOUT or STDERR", metavar="list"),
    Flag(
        "entrypoint", "", STRING, "Overwrite the default ENTRYPOINT of the image", metavar="string"
    ),
    Flag("env", "e", LIST, "Set environment variables", metavar="list"),
    Flag("env-file", "", LIST, "Read in a file of environment variables", metavar="list"),
    Flag("health-cmd", "", STRING, "Command to run to check health", metavar="string"),
    Flag(
        "health-interval",
        "",
        STRING,
        "Time between running the check (ms|s|m|h)",
        metavar="duration",
    ),
    Flag(
        "health-retries", "", INT, "Consecutive failures needed to report unhealthy", metavar="int"
    ),
    Flag(
        "health-start-interval",
        "",
        STRING,
        "Time between running the check during the start period",
        metavar="duration",
    ),
    Flag(
        "health-start-period",
        "",
        STRING,
        "Start period for the container to initialize",
        metavar="duration",
    ),
    Flag(
        "health-timeout", "", STRING, "Maximum time to allow one check to run", metavar="duration"
    ),
    Flag("no-healthcheck", "", BOOL, "Disable any container-specified HEALTHCHECK"),
    Flag("hostname", "h", STRING, "Container host name", metavar="string"),
    Flag("init", "", BOOL, "Run an init inside the container"),
    Flag("interactive", "i", BOOL, "Keep STDIN open even if not attached"),
    Flag("label", "l", LIST, "Set meta data on a container", metavar="list"),
    Flag("name", "", STRING, "Assign a name to the container", metavar="string"),
    Flag("network", "", STRING, "Connect a container to a network", metavar="network"),
    Flag("net", "", STRING, "Connect a container to a network (alias of --network)"),
    Flag("privileged", "", BOOL, "Give extended privileges to this container"),
    Flag("publish", "p", LIST, "Publish a container's port(s) to the host", metavar="list"),
    Flag("pull", "", STRING, 'Pull image before running ("always"|"missing"|"never")', "missing"),
    Flag("restart", "", STRING, "Restart policy to apply when a container exits", "no"),
    Flag("rm", "", BOOL, "Automatically remove the container when it exits"),
    Flag("stop-signal", "", STRING, "Signal to stop the container", metavar="string"),
    Flag("stop-timeout", "", INT, "Timeout (in seconds) to stop a container", metavar="int"),
    Flag("tty", "t", BOOL, "Allocate a pseudo-TTY"),
    Flag(
        "user", "u", STRING, "Username or UID (format: <name|uid>[:<group|gid>])", metavar="string"
    ),
    Flag("volume", "v", LIST, "Bind mount a volume", metavar="list"),
    Flag("workdir", "w", STRING, "Working directory inside the container", metavar="string"),
)
_RUN_ONLY = (
    Flag("detach", "d", BOOL, "Run container in background and print container ID"),
    Flag("sig-proxy", "", BOOL, "Proxy received signals to the process", True),
)
RUN = Command(
    "run",
    "[OPTIONS] IMAGE [COMMAND] [ARG...]",
    "Run a command in a new container",
    _CREATE_FLAGS + _RUN_ONLY,
    min_args=1,
    interspersed=False,
)
CREATE = Command(
    "create",
    "[OPTIONS] IMAGE [COMMAND] [ARG...]",
    "Create a new container",
    _CREATE_FLAGS,
    min_args=1,
    interspersed=False,
)


def parse_env_file(text: str) -> list[str]:
    """docker's --env-file: KEY=VALUE lines, `#` comments, bare KEY taken from our env."""
    env = []
    for line in text.splitlines():
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        env.append(expand_env(line))
    return env


def expand_env(item: str) -> str:
    """`-e FOO` takes FOO from the client's environment when it is set there."""
    key, sep, _ = item.partition("=")
    if sep or key not in os.environ:
        return item
    return f"{key}={os.environ[key]}"


def parse_labels(items: list[str]) -> dict[str, str]:
    labels = {}
    for item in items:
        key, _, value = item.partition("=")
        labels[key] = value
    return labels


def parse_restart(policy: str) -> dict[str, Any]:
    name, _, count = policy.partition(":")
    if name not in ("no", "always", "on-failure", "unless-stopped", ""):
        raise ValueError(f"invalid restart policy {name}")
    result: dict[str, Any] = {"Name": "" if name == "no" else name}
    if count:
        if name != "on-failure":
            raise ValueError(f"maximum retry count cannot be used with restart policy '{name}'")
        result["MaximumRetryCount"] = int(count)
    return result


def parse_publish(items: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`-p [ip:][hostPort:]containerPort[/proto]` -> (ExposedPorts, PortBindings)."""
    exposed: dict[str, Any] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for item in items:
        spec, _, proto = item.partition("/")
        parts = spec.rsplit(":", 2)
        container_port = parts[-1]
        host_port = parts[-2] if len(parts) >= 2 else ""
        host_ip = parts[0] if len(parts) == 3 else ""
        if not container_port.isdigit():
            raise ValueError(f"invalid containerPort: {container_port}")
        key = f"{container_port}/{proto or 'tcp'}"
        exposed[key] = {}
        bindings.setdefault(key, []).append({"HostIp": host_ip, "HostPort": host_port})
    return exposed, bindings


def build_create_body(opts: dict[str, Any], image: str, command: list[str]) -> dict[str, Any]:
    """The POST /containers/create body for run/create flags (pure)."""
    attach = [s.lower() for s in opts["attach"]]
    detach = opts.get("detach", False)
    if not detach and not attach:
        attach = ["stdout", "stderr"] + (["stdin"] if opts["interactive"] else [])
    for stream in attach:
        if stream not in ("stdin", "stdout", "stderr"):
            raise ValueError(
                f'invalid argument {stream!r} for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR'
            )
    env = []
    for path in opts["env_file"]:
        with open(path) as f:
            env += parse_env_file(f.read())
    env += [expand_env(e) for e in opts["env"]]
    entrypoint = None
    if opts["entrypoint"]:
        entrypoint = [opts["entrypoint"]]
    elif "entrypoint" in opts["_changed"]:
        entrypoint = [""]
    exposed, bindings = parse_publish(opts["publish"])
    stdin = "stdin" in attach
    host_config: dict[str, Any] = {
        "AutoRemove": opts["rm"],
        "Binds": opts["volume"] or None,
        "NetworkMode": opts["network"] or opts["net"] or "default",
        "PortBindings": bindings,
        "Privileged": opts["privileged"],
        "RestartPolicy": parse_restart(opts["restart"]),
    }
    if opts["init"]:
        host_config["Init"] = True
    body: dict[str, Any] = {
        "Hostname": opts["hostname"] or "",
        "Domainname": "",
        "User": opts["user"] or "",
        "AttachStdin": stdin,
        "AttachStdout": "stdout" in attach,
        "AttachStderr": "stderr" in attach,
        "ExposedPorts": exposed,
        "Tty": opts["tty"],
        "OpenStdin": opts["interactive"],
        "StdinOnce": stdin and opts["interactive"] and not detach,
        "Env": env,
        "Cmd": command or None,
        "Image": image,
        "Volumes": {},
        "WorkingDir": opts["workdir"] or "",
        "Entrypoint": entrypoint,
        "Labels": parse_labels(opts["label"]),
        "HostConfig": host_config,
        "NetworkingConfig": {"EndpointsConfig": {}},
    }
    health = health_config(opts)
    if health is not None:
        body["Healthcheck"] = health
    if opts["stop_signal"]:
        body["StopSignal"] = opts["stop_signal"]
    if opts["stop_timeout"] is not None:
        body["StopTimeout"] = opts["stop_timeout"]
    return body


def health_config(opts: dict[str, Any]) -> dict[str, Any] | None:
    """The --health-* flags as the API's HealthConfig (durations in nanoseconds)."""
    from dockyard.cli.timestamps import parse_duration

    if opts["no_healthcheck"]:
        if opts["health_cmd"]:
            raise ValueError("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    health: dict[str, Any] = {}
    if opts["health_cmd"]:
        health["Test"] = ["CMD-SHELL", opts["health_cmd"]]
    for flag, key in (
        ("health_interval", "Interval"),
        ("health_timeout", "Timeout"),
        ("health_start_period", "StartPeriod"),
        ("health_start_interval", "StartInterval"),
    ):
        if opts[flag]:
            seconds = parse_duration(opts[flag])
            if seconds is None or seconds < 0:
                raise ValueError(
                    f'invalid argument {opts[flag]!r} for "--{flag.replace("_", "-")}" flag'
                )
            health[key] = int(seconds * 1e9)
    if opts["health_retries"] is not None:
        health["Retries"] = opts["health_retries"]
    return health or None


def start_error_status(message: str) -> int:
    """docker's runStartContainerErr: 127 not found, 126 not executable, else 125."""
    if (
        "executable file not found" in message
        or "no such file or directory" in message
        or "system cannot find the file specified" in message
    ):
        return 127
    if "permission denied" in message or "is a directory" in message:
        return 126
    return 125


def report(cli: Cli, command: str, message: str, with_help: bool) -> None:
    """docker's reportError: `dockyard: <message>.` (+ `See '... --help'.`)."""
    text = f"dockyard: {message.rstrip('.')}."
    if with_help:
        text += f"\nSee 'dockyard {command} --help'."
    cli.err(text + "\n")


def pull_image(cli: Cli, reference: str, out: Any) -> None:
    """POST /images/create?fromImage=..&tag=..; progress printed as docker does off a tty."""
    from dockyard.cli.format import split_reference
    from dockyard.cli.image import show_progress

    repo, tag = split_reference(reference)
    resp = cli.client.request("POST", "/images/create", {"fromImage": repo, "tag": tag or None})
    show_progress(cli.client.json_stream(resp), out)


def create_container(cli: Cli, opts: dict[str, Any], image: str, body: dict[str, Any]) -> str:
    """Create (pulling the image on a 404 like docker); warnings go to stderr. Returns the id."""
    from dockyard.cli.format import with_default_tag

    params = {"name": opts["name"] or None}
    reference = with_default_tag(image)
    if opts["pull"] == "always":
        pull_image(cli, reference, sys.stderr)
    try:
        created = cli.client.post("/containers/create", params, body)
    except APIError as e:
        if not e.not_found or opts["pull"] == "never":
            raise
        cli.err(f"Unable to find image '{reference}' locally\n")
        pull_image(cli, reference, sys.stderr)
        created = cli.client.post("/containers/create", params, body)
    for warning in created.get("Warnings") or []:
        cli.err(f"WARNING: {warning}\n")
    return created["Id"]


def create(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    try:
        body = build_create_body(opts, args[0], args[1:])
        container_id = create_container(cli, opts, args[0], body)
    except (ClientError, ValueError, OSError) as e:
        report(cli, "create", str(e), True)
        return 125
    cli.out(container_id + "\n")
    return 0


class _Waiter:
    """POST /wait with its headers read now (the daemon flushes them once it
    is waiting); the body, read by a thread, carries the exit status."""

    def __init__(self, cli: Cli, container_id: str, condition: str) -> None:
        import threading

        self.status = 125
        self.error: str | None = None
        path = f"/containers/{quote(container_id)}/wait"
        self._resp = cli.client.request("POST", path, {"condition": condition})
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        import json

        try:
            result = json.loads(self._resp.read() or b"{}")
            self.status = int(result.get("StatusCode", 125))
            self.error = (result.get("Error") or {}).get("Message") or None
        except (ValueError, OSError, ClientError) as e:
            self.error = str(e)
        finally:
            self._resp.close()

    def result(self) -> int:
        self._thread.join()
        return self.status


def _pump_stdin(stream: Any) -> None:
    """Copy our stdin to the container, then half-close so it sees EOF."""
    fd = sys.stdin.fileno()
    try:
        while data := os.read(fd, 65536):
            stream.send(data)
    except OSError:
        pass
    finally:
        stream.close_write()


def copy_output(stream: Any, tty: bool) -> None:
    """Copy the attach stream to our stdout/stderr until the daemon closes it."""
    from dockyard.client.streams import demux
    from dockyard.proto.stdcopy import FrameDecoder

    out, err = sys.stdout.buffer, sys.stderr.buffer

    def write_out(data: bytes) -> None:
        out.write(data)
        out.flush()

    def write_err(data: bytes) -> None:
        err.write(data)
        err.flush()

    decoder = FrameDecoder()
    while True:
        try:
            data = stream.recv()
        except OSError:
            break
        if not data:
            break
        if tty:
            write_out(data)
        else:
            demux(decoder, data, write_out, write_err)


class _RawTerminal:
    """Put our terminal in raw mode for `-it`, restoring it on exit."""

    def __init__(self, enabled: bool) -> None:
        self._saved: Any = None
        if enabled and sys.stdin.isatty():
            import termios
            import tty

            self._termios = termios
            self._saved = termios.tcgetattr(sys.stdin.fileno())
            tty.setraw(sys.stdin.fileno())

    def restore(self) -> None:
        if self._saved is not None:
            self._termios.tcsetattr(sys.stdin.fileno(), self._termios.TCSADRAIN, self._saved)
            self._saved = None


def _proxy_signals(cli: Cli, container_id: str) -> None:
    """--sig-proxy: forward SIGINT/SIGTERM to the container, as docker does off a tty."""
    import signal

    def forward(signum: int, _frame: Any) -> None:
        try:
            cli.client.post(f"/containers/{container_id}/kill", {"signal": str(signum)})
        except ClientError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, forward)


def attach_and_start(
    cli: Cli,
    container_id: str,
    streams: list[str],
    tty: bool,
    wait_condition: str,
    command: str,
    sig_proxy: bool,
    detach_keys: str | None = None,
) -> int:
    """attach → wait → start → copy streams → exit status (docker's run/start -a)."""
    import threading

    path = f"/containers/{quote(container_id)}"
    attached = None
    if streams:
        params = {"stream": True, **{s: True for s in streams}}
        attached = cli.client.hijack(f"{path}/attach", params)
    waiter = _Waiter(cli, container_id, wait_condition)
    terminal = _RawTerminal(tty and "stdin" in streams)
    try:
        try:
            cli.client.post(f"{path}/start")
        except APIError as e:
            if attached:
                attached.close()
            if wait_condition == "removed":
                waiter.result()
            terminal.restore()
            report(cli, command, str(e), False)
            return start_error_status(e.message)
        if sig_proxy and not tty:
            _proxy_signals(cli, container_id)
        detached = threading.Event()
        if attached:
            if tty:
                from dockyard.cli.terminal import follow_size

                follow_size(lambda h, w: cli.client.post(f"{path}/resize", {"h": h, "w": w}))
            if "stdin" in streams:
                watch = tty and sys.stdin.isatty()

                def pump() -> None:
                    from dockyard.cli.terminal import end, pump_stdin

                    if pump_stdin(attached, detach_keys, watch):  # Ctrl-P Ctrl-Q
                        detached.set()
                        end(attached)

                threading.Thread(target=pump, daemon=True).start()
            copy_output(attached, tty)
            attached.close()
        if detached.is_set():
            return 0
        status = waiter.result()
    finally:
        terminal.restore()
    if waiter.error and status == 125:
        cli.err(f"dockyard: {waiter.error}\n")
    return status


def run(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    if opts["detach"] and opts["attach"]:
        report(cli, "run", "Conflicting options: -a and -d", True)
        return 125
    try:
        body = build_create_body(opts, args[0], args[1:])
        container_id = create_container(cli, opts, args[0], body)
    except (ClientError, ValueError, OSError) as e:
        report(cli, "run", str(e), True)
        return 125
    if opts["detach"]:
        try:
            cli.client.post(f"/containers/{quote(container_id)}/start")
        except APIError as e:
            report(cli, "run", str(e), False)
            return start_error_status(e.message)
        cli.out(container_id + "\n")
        return 0
    streams = [s for s in ("stdin", "stdout", "stderr") if body[f"Attach{s.capitalize()}"]]
    condition = "removed" if opts["rm"] else "next-exit"
    try:
        return attach_and_start(
            cli, container_id, streams, opts["tty"], condition, "run", opts["sig_proxy"]
        )
    except ClientError as e:
        report(cli, "run", str(e), False)
        return 125


# -- start -----------------------------------------------------------------------
START = Command(
    "start",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Start one or more stopped containers",
    (
        Flag("attach", "a", BOOL, "Attach STDOUT/STDERR and forward signals"),
        Flag("interactive", "i", BOOL, "Attach container's STDIN"),
    ),
    min_args=1,
)


def start(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    if opts["attach"] or opts["interactive"]:
        if len(args) > 1:
            cli.err("dockyard: you cannot start and attach multiple containers at once.\n")
            return 1
        info = cli.client.get(f"/containers/{quote(args[0])}/json")
        streams = ["stdout", "stderr"] + (["stdin"] if opts["interactive"] else [])
        tty = info["Config"].get("Tty", False)
        auto_remove = (info.get("HostConfig") or {}).get("AutoRemove", False)
        condition = "removed" if auto_remove else "next-exit"
        try:
            return attach_and_start(cli, info["Id"], streams, tty, condition, "start", True)
        except APIError as e:
            cli.err(f"{e}\n")
            return 1
    return _each(
        cli, args, lambda name: cli.client.post(f"/containers/{quote(name)}/start"), "start"
    )


def _each(cli: Cli, names: list[str], action: Any, verb: str | None = None) -> int:
    """Apply `action` to each container, echo its name; errors last, exit 1."""
    errors = []
    for name in names:
        try:
            result = action(name)
        except APIError as e:
            errors.append(str(e))
            continue
        cli.out(f"{name if result is None else result}\n")
    if errors:
        if verb:
            errors.append(f"Error: failed to {verb} containers: {', '.join(names)}")
        cli.err("\n".join(errors) + "\n")
        return 1
    return 0


# -- stop, kill, restart, rm, wait ---------------------------------------------
STOP = Command(
    "stop",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Stop one or more running containers",
    (
        Flag("signal", "s", STRING, "Signal to send to the container", metavar="string"),
        Flag("time", "t", INT, "Seconds to wait before killing the container", metavar="int"),
    ),
    min_args=1,
)
RESTART = Command(
    "restart",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Restart one or more containers",
    STOP.flags,
    min_args=1,
)
KILL = Command(
    "kill",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Kill one or more running containers",
    (Flag("signal", "s", STRING, "Signal to send to the container", "KILL", "string"),),
    min_args=1,
)
RM = Command(
    "rm",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Remove one or more containers",
    (
        Flag("force", "f", BOOL, "Force the removal of a running container (uses SIGKILL)"),
        Flag("link", "l", BOOL, "Remove the specified link"),
        Flag("volumes", "v", BOOL, "Remove anonymous volumes associated with the container"),
    ),
    min_args=1,
)
WAIT = Command(
    "wait",
    "CONTAINER [CONTAINER...]",
    "Block until one or more containers stop, then print their exit codes",
    min_args=1,
)


def _stop_params(opts: dict[str, Any]) -> dict[str, Any]:
    return {"t": opts["time"], "signal": opts["signal"] or None}


def stop(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    params = _stop_params(opts)
    return _each(cli, args, lambda n: cli.client.post(f"/containers/{quote(n)}/stop", params))


def restart(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    params = _stop_params(opts)
    return _each(cli, args, lambda n: cli.client.post(f"/containers/{quote(n)}/restart", params))


def kill(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    params = {"signal": opts["signal"]}
    return _each(cli, args, lambda n: cli.client.post(f"/containers/{quote(n)}/kill", params))


def rm(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    params = {
        "force": opts["force"] or None,
        "v": opts["volumes"] or None,
        "link": opts["link"] or None,
    }
    return _each(cli, args, lambda n: cli.client.delete(f"/containers/{quote(n)}", params))


def wait(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    def one(name: str) -> str:
        result = cli.client.post(f"/containers/{quote(name)}/wait") or {}
        return str(result.get("StatusCode", ""))

    return _each(cli, args, one)


# -- logs ------------------------------------------------------------------------
LOGS = Command(
    "logs",
    "[OPTIONS] CONTAINER",
    "Fetch the logs of a container",
    (
        Flag("details", "", BOOL, "Show extra details provided to logs"),
        Flag("follow", "f", BOOL, "Follow log output"),
        Flag(
            "since",
            "",
            STRING,
            "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)",
            metavar="string",
        ),
        Flag(
            "tail",
            "n",
            STRING,
            'Number of lines to show from the end of the logs (default "all")',
            "all",
            "string",
        ),
        Flag("timestamps", "t", BOOL, "Show timestamps"),
        Flag(
            "until",
            "",
            STRING,
            "Show logs before a timestamp or relative (e.g. 42m for 42 minutes)",
            metavar="string",
        ),
    ),
    min_args=1,
    max_args=1,
)


def logs(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.timestamps import get_timestamp

    name = quote(args[0])
    info = cli.client.get(f"/containers/{name}/json")
    params = {
        "stdout": True,
        "stderr": True,
        "follow": opts["follow"] or None,
        "timestamps": opts["timestamps"] or None,
        "details": opts["details"] or None,
        "tail": opts["tail"],
        "since": get_timestamp(opts["since"]) if opts["since"] else None,
        "until": get_timestamp(opts["until"]) if opts["until"] else None,
    }
    resp = cli.client.request("GET", f"/containers/{name}/logs", params)

    class _Body:
        def __init__(self) -> None:
            self._chunks = resp.iter_body()

        def recv(self) -> bytes:
            return next(self._chunks, b"")

    try:
        copy_output(_Body(), info["Config"].get("Tty", False))
    finally:
        resp.close()
    return 0


# -- ps ----------------------------------------------------------------------------
PS = Command(
    "ps",
    "[OPTIONS]",
    "List containers",
    (
        Flag("all", "a", BOOL, "Show all containers (default shows just running)"),
        Flag("filter", "f", LIST, "Filter output based on conditions provided", metavar="filter"),
        Flag("format", "", STRING, "Pretty-print containers using a Go template", metavar="string"),
        Flag("last", "n", INT, "Show n last created containers (includes all states)", -1, "int"),
        Flag("latest", "l", BOOL, "Show the latest created container (includes all states)"),
        Flag("no-trunc", "", BOOL, "Don't truncate output"),
        Flag("quiet", "q", BOOL, "Only display container IDs"),
        Flag("size", "s", BOOL, "Display total file sizes"),
    ),
    max_args=0,
    aliases=("container ls", "container list", "container ps"),
)
PS_TABLE = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)


def parse_filters(items: list[str]) -> str | None:
    """`-f status=exited -f name=x` -> the JSON filters docker sends."""
    import json

    filters: dict[str, dict[str, bool]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"bad format of filter (expected name=value): {item}")
        filters.setdefault(key.strip().lower(), {})[value] = True
    return json.dumps(filters) if filters else None


def ps(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.pscontext import ContainerRow, ps_header
    from dockyard.cli.template import TemplateError, render

    try:
        filters = parse_filters(opts["filter"])
    except ValueError as e:
        cli.err(f"{e}\n")
        return 125
    limit = 1 if opts["latest"] else opts["last"]
    params = {
        "all": (opts["all"] or limit > 0) or None,
        "limit": limit if limit > 0 else None,
        "size": opts["size"] or None,
        "filters": filters,
    }
    containers = cli.client.get("/containers/json", params) or []
    trunc = not opts["no_trunc"]
    if opts["quiet"] and not opts["format"]:
        fmt = "{{.ID}}"
    else:
        fmt = opts["format"] or os.environ.get("DOCKYARD_PS_FORMAT") or PS_TABLE
        if fmt == "table":
            fmt = PS_TABLE
        if opts["size"] and fmt == PS_TABLE:
            fmt += "\t{{.Size}}"
    rows = [ContainerRow(c, trunc) for c in containers]
    try:
        cli.out(render(fmt, rows, ps_header()))
    except TemplateError as e:
        cli.err(f"template parsing error: {e}\n")
        return 1
    return 0


COMMANDS = {
    "run": (RUN, run),
    "create": (CREATE, create),
    "start": (START, start),
    "stop": (STOP, stop),
    "restart": (RESTART, restart),
    "kill": (KILL, kill),
    "rm": (RM, rm),
    "wait": (WAIT, wait),
    "logs": (LOGS, logs),
    "ps": (PS, ps),
}
