"""Container commands: run, create, start, ps, logs, stop, kill, rm, restart, wait.

`run` follows the docker CLI's sequence: create (pulling on a 404 for the
image), attach (hijacked, before start so no output is lost), wait (its
headers are read before start, so the exit cannot be missed), start, copy
the streams, exit with the container's status.
"""

from __future__ import annotations

import os
import sys

from dockyard.cli import runopts
from dockyard.cli.flags import BOOL, INT, LIST, STRING, Command, Flag
from dockyard.cli.main import Cli
from dockyard.client.errors import APIError, ClientError
from dockyard.client.http import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# -- run and create: flags in runopts (docker 28.2's table and mapping) -------------
_CREATE_FLAGS = runopts.CONTAINER_FLAGS
_RUN_ONLY = runopts.RUN_ONLY_FLAGS
RUN = Command(
    "run",
    "[OPTIONS] IMAGE [COMMAND] [ARG...]",
    "Create and run a new container from an image",
    _CREATE_FLAGS + (runopts.pull_flag("running"),) + _RUN_ONLY,
    min_args=1,
    interspersed=False,
    aliases=("container run", "run"),
)
CREATE = Command(
    "create",
    "[OPTIONS] IMAGE [COMMAND] [ARG...]",
    "Create a new container",
    _CREATE_FLAGS + (runopts.pull_flag("creating"),),
    min_args=1,
    interspersed=False,
    aliases=("container create", "create"),
)
build_create_body = runopts.build_create_body


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


def pull_image(cli: Cli, reference: str, out: Any, platform: str | None = None) -> None:
    """POST /images/create?fromImage=..&tag=..; progress printed as docker does off a tty."""
    from dockyard.cli.format import split_reference
    from dockyard.cli.image import show_progress

    repo, tag = split_reference(reference)
    params = {"fromImage": repo, "tag": tag or None, "platform": platform}
    resp = cli.client.request("POST", "/images/create", params)
    if out is None:
        for _ in cli.client.json_stream(resp):
            pass
        return
    show_progress(cli.client.json_stream(resp), out)


class _CIDFile:
    """--cidfile, as docker's: refused if the file exists, created before the request,
    removed again if no id was written to it."""

    def __init__(self, path: str) -> None:
        self.path, self.file, self.written = path, None, False
        if not path:
            return
        if os.path.exists(path):
            raise ValueError(
                "container ID file found, make sure the other container isn't running "
                f"or delete {path}"
            )
        try:
            self.file = open(path, "w")  # noqa: SIM115 - closed by close()
        except OSError as e:
            reason = (e.strerror or str(e)).lower()
            raise ValueError(
                f"failed to create the container ID file: open {path}: {reason}"
            ) from None

    def write(self, container_id: str) -> None:
        if self.file is not None:
            self.file.write(container_id)
            self.written = True

    def close(self) -> None:
        if self.file is None:
            return
        self.file.close()
        if not self.written:
            os.unlink(self.path)


def _api_socket_mount(cli: Cli) -> dict[str, Any]:
    """--use-api-socket: our daemon's socket at /var/run/docker.sock."""
    host = str(cli.client.host)
    if not host.startswith("unix://"):
        raise ValueError(
            "flag --use-api-socket can only be used with unix sockets: "
            f"docker endpoint {host} incompatible"
        )
    socket = host.removeprefix("unix://")
    return {"Type": "bind", "Source": socket, "Target": "/var/run/docker.sock", "BindOptions": {}}


_SECRETS_CONFIG = "/run/secrets/docker/config.json"


def api_socket_credentials(env: list[str] | None) -> dict[str, str]:
    """--use-api-socket: our saved registry credentials (host -> base64 user:password), unless
    the container's env names its own DOCKER_CONFIG."""
    if any(item.startswith("DOCKER_CONFIG=") for item in env or ()):
        return {}
    import base64

    from dockyard.cli.registry import get_credentials, load_config

    config = load_config()
    hosts = sorted({*(config.get("auths") or {}), *(config.get("credHelpers") or {})})
    found = {}
    for host in hosts:
        creds = get_credentials(host)
        if creds and (creds["username"] or creds["password"]):
            pair = f"{creds['username']}:{creds['password']}".encode()
            found[host] = base64.b64encode(pair).decode()
    return found


def copy_credentials(cli: Cli, container_id: str, creds: dict[str, str]) -> None:
    """docker's copyDockerConfigIntoContainer: a config.json holding only `auths`, as a
    0600 file at /run/secrets/docker/config.json (named relative to / in the tar: dockyardd,
    unlike dockerd, refuses the absolute name docker's CLI sends)."""
    import io
    import json
    import tarfile

    auths = {host: {"auth": auth} for host, auth in sorted(creds.items())}
    data = json.dumps({"auths": auths}, indent="\t").encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(_SECRETS_CONFIG.lstrip("/"))  # docker's absolute name: refused
        info.size, info.mode = len(data), 0o600
        tar.addfile(info, io.BytesIO(data))
    path = f"/containers/{quote(container_id)}/archive"
    headers = {"Content-Type": "application/x-tar"}
    resp = cli.client.request("PUT", path, {"path": "/"}, buf.getvalue(), headers)
    resp.read()
    resp.close()


def _console_size() -> list[int]:
    """HostConfig.ConsoleSize: our stdout's rows and columns when it is a terminal."""
    try:
        if os.isatty(1):
            size = os.get_terminal_size(1)
            return [size.lines, size.columns]
    except OSError:
        pass
    return [0, 0]


def create_container(cli: Cli, opts: dict[str, Any], image: str, body: dict[str, Any]) -> str:
    """docker's createContainer: --cidfile, --platform, --use-api-socket, the pull policy
    (pulling on a 404 by default); warnings go to stderr. Returns the id."""
    from dockyard.cli.format import with_default_tag

    cid = _CIDFile(opts.get("cidfile") or "")
    try:
        platform = runopts.parse_platform(opts["platform"]) if opts.get("platform") else None
        creds = {}
        if opts.get("use_api_socket"):
            body["HostConfig"].setdefault("Mounts", []).append(_api_socket_mount(cli))
            creds = api_socket_credentials(body["Env"])
            if creds:
                dirname = _SECRETS_CONFIG.rpartition("/")[0]
                body["Env"] = [*(body["Env"] or []), f"DOCKER_CONFIG={dirname}"]
        body["HostConfig"]["ConsoleSize"] = _console_size()
        params = {"name": opts["name"] or None, "platform": platform}
        reference = with_default_tag(image)
        progress = None if opts.get("quiet") else sys.stderr
        if opts["pull"] == "always":
            pull_image(cli, reference, progress, platform)
        try:
            created = cli.client.post("/containers/create", params, body)
        except APIError as e:
            if not e.not_found or opts["pull"] != "missing":
                raise
            if progress is not None:
                cli.err(f"Unable to find image '{reference}' locally\n")
            pull_image(cli, reference, progress, platform)
            created = cli.client.post("/containers/create", params, body)
        warnings = list(created.get("Warnings") or [])
        for address in body["HostConfig"].get("Dns") or []:
            if runopts.is_loopback(address):
                warnings.append(f"Localhost DNS ({address}) may fail in containers.")
                break
        for warning in warnings:
            cli.err(f"WARNING: {warning}\n")
        cid.write(created["Id"])
        if creds:
            try:
                copy_credentials(cli, created["Id"], creds)
            except ClientError as e:
                raise ValueError(
                    "injecting docker config.json into container failed: "
                    f"copying config.json into container failed: {e}"
                ) from None
    finally:
        cid.close()
    return created["Id"]


_PROXY_KEYS = {"HTTP_PROXY": "httpProxy", "HTTPS_PROXY": "httpsProxy", "NO_PROXY": "noProxy",
               "FTP_PROXY": "ftpProxy", "ALL_PROXY": "allProxy"}  # fmt: skip


def proxy_env(cli: Cli, env: list[str]) -> list[str]:
    """docker's ParseProxyConfig: the `proxies` of our config.json (for this daemon's host,
    else "default") as HTTP_PROXY/http_proxy... where -e did not set them."""
    home = os.environ.get("DOCKYARD_CONFIG") or os.path.join(os.path.expanduser("~"), ".dockyard")
    if not os.path.exists(os.path.join(home, "config.json")):
        return []  # the common case, without importing the registry module
    from dockyard.cli.registry import load_config

    proxies = load_config().get("proxies") or {}
    config = proxies.get(str(cli.client.host)) or proxies.get("default") or {}
    given = {item.partition("=")[0] for item in env}
    extra = []
    for key, field in _PROXY_KEYS.items():
        value = config.get(field) or ""
        for name in (key, key.lower()) if value else ():
            if name not in given:
                extra.append(f"{name}={value}")
    return extra


def _parse_create(cli: Cli, opts: dict[str, Any], args: list[str], command: str) -> Any:
    """The checks docker makes before any request, then the body; an int is an exit status."""
    unsupported = runopts.windows_only_flag(opts["_changed"])
    if unsupported:
        cli.err(unsupported + "\n")
        return 1
    opts["platform"] = opts["platform"] or os.environ.get("DOCKYARD_DEFAULT_PLATFORM", "")
    try:
        runopts.validate_pull(opts["pull"])
        opts["env"] = opts["env"] + proxy_env(cli, opts["env"])
        return build_create_body(opts, args[0], args[1:])
    except (ValueError, OSError) as e:
        report(cli, command, str(e), True)
        return 125


def create(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    body = _parse_create(cli, opts, args, "create")
    if isinstance(body, int):
        return body
    try:
        container_id = create_container(cli, opts, args[0], body)
    except (ClientError, ValueError, OSError) as e:
        cli.err(f"{e}\n")
        return 1
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
            # TCSANOW, as docker's CLI: TCSAFLUSH (tty.setraw's default) would drop
            # what the user typed before the stream was attached
            tty.setraw(sys.stdin.fileno(), termios.TCSANOW)

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
        params = {"stream": True, **{s: True for s in streams}, "detachKeys": detach_keys}
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
    body = _parse_create(cli, opts, args, "run")
    if isinstance(body, int):
        return body
    if not opts["detach"] and body["AttachStdin"] and body["Tty"] and not sys.stdin.isatty():
        cli.err("the input device is not a TTY\n")
        return 1
    if opts["detach"] and opts["attach"]:
        cli.err("conflicting options: cannot specify both --attach and --detach\n")
        return 1
    try:
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
            cli, container_id, streams, opts["tty"], condition, "run", opts["sig_proxy"],
            opts["detach_keys"] or None,
        )  # fmt: skip
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
    # as docker's CLI: names are trimmed of "/" (a link is parent/alias in the path)
    return _each(
        cli, args, lambda n: cli.client.delete(f"/containers/{quote(n.strip('/'))}", params)
    )


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
    from dockyard.cli.timeflags import since_until

    name = quote(args[0])
    info = cli.client.get(f"/containers/{name}/json")
    params = {
        "stdout": True,
        "stderr": True,
        "follow": opts["follow"] or None,
        "timestamps": opts["timestamps"] or None,
        "details": opts["details"] or None,
        "tail": opts["tail"],
        **since_until(opts),
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
