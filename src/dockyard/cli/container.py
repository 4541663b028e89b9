"""Container commands: run, create, start (stop, kill, rm, restart and wait are in
lifecycle.py, ps in ps.py, logs in logs.py; attaching in attach.py).

`run` follows the docker CLI's sequence: create (pulling on a 404 for the
image), attach (hijacked, before start so no output is lost), wait (its
headers are read before start, so the exit cannot be missed), start, copy
the streams, exit with the container's status.
"""

from __future__ import annotations

import os
import sys

from dockyard.cli import runopts
from dockyard.cli.attach import attach_and_start, report, start_error_status
from dockyard.cli.flags import BOOL, Command, Flag
from dockyard.cli.main import Cli, command_table, handles
from dockyard.client.errors import APIError, ClientError
from dockyard.client.http import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# -- run and create: flags in runopts (docker 28.2's table and mapping) -------------
_CREATE_FLAGS = runopts.CONTAINER_FLAGS
_RUN_ONLY = runopts.RUN_ONLY_FLAGS
RUN = Command(
    "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
    "Create and run a new container from an image",
    _CREATE_FLAGS + (runopts.pull_flag("running"),) + _RUN_ONLY,
    min_args=1,
    interspersed=False,
    aliases=("container run", "run"),
)
CREATE = Command(
    "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
    "Create a new container",
    _CREATE_FLAGS + (runopts.pull_flag("creating"),),
    min_args=1,
    interspersed=False,
    aliases=("container create", "create"),
)
build_create_body = runopts.build_create_body


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


@handles(CREATE)
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


@handles(RUN)
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
    "start [OPTIONS] CONTAINER [CONTAINER...]",
    "Start one or more stopped containers",
    (
        Flag("attach", "a", BOOL, "Attach STDOUT/STDERR and forward signals"),
        Flag("interactive", "i", BOOL, "Attach container's STDIN"),
    ),
    min_args=1,
)


@handles(START)
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
    from dockyard.cli.lifecycle import each  # not on run's path: it imports the templates

    return each(
        cli, args, lambda name: cli.client.post(f"/containers/{quote(name)}/start"), "start"
    )


COMMANDS = command_table(run, create, start)
