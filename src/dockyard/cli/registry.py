"""`dockyard pull`, `push`, `login`, `logout` (the daemon does the registry
work; this side keeps credentials and renders progress), and the hand-off of
`dockyard registry ...` to the registry server's own command line.

Credentials live in `$DOCKYARD_CONFIG/config.json` (default `~/.dockyard`)
in docker's format: `auths: {host: {auth: base64(user:pass)}}`, or with
`credsStore` / `credHelpers` the `docker-credential-<name>` helper is run
with `store` / `get` / `erase`, as docker runs them.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from typing import Any

from dockyard.cli.flags import BOOL, PLATFORM, STRING, Command, Flag
from dockyard.cli.image import show_progress
from dockyard.cli.main import Cli, command_table, handles
from dockyard.client.errors import ClientError

DEFAULT_SERVER = "docker.io"


def config_path() -> str:
    d = os.environ.get("DOCKYARD_CONFIG") or os.path.join(os.path.expanduser("~"), ".dockyard")
    return os.path.join(d, "config.json")


def load_config() -> dict[str, Any]:
    try:
        with open(config_path()) as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return {}


def save_config(cfg: dict[str, Any]) -> None:
    path = config_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f, indent="\t")
    os.replace(tmp, path)


def _helper(cfg: dict[str, Any], host: str) -> str | None:
    name = (cfg.get("credHelpers") or {}).get(host) or cfg.get("credsStore")
    return f"docker-credential-{name}" if name else None


def get_credentials(host: str) -> dict[str, str] | None:
    cfg = load_config()
    helper = _helper(cfg, host)
    if helper:
        p = subprocess.run([helper, "get"], input=host.encode(), capture_output=True)
        if p.returncode != 0:
            return None
        doc = json.loads(p.stdout)
        return {"username": doc.get("Username", ""), "password": doc.get("Secret", "")}
    entry = (cfg.get("auths") or {}).get(host)
    if not entry or not entry.get("auth"):
        return None
    user, _, pw = base64.b64decode(entry["auth"]).decode().partition(":")
    return {"username": user, "password": pw}


def store_credentials(host: str, user: str, password: str) -> None:
    cfg = load_config()
    helper = _helper(cfg, host)
    if helper:
        doc = json.dumps({"ServerURL": host, "Username": user, "Secret": password})
        subprocess.run([helper, "store"], input=doc.encode(), check=True)
        cfg.setdefault("auths", {})[host] = {}
    else:
        raw = base64.b64encode(f"{user}:{password}".encode()).decode()
        cfg.setdefault("auths", {})[host] = {"auth": raw}
    save_config(cfg)


def erase_credentials(host: str) -> bool:
    cfg = load_config()
    helper = _helper(cfg, host)
    if helper:
        subprocess.run([helper, "erase"], input=host.encode(), capture_output=True)
    found = host in (cfg.get("auths") or {})
    if found:
        del cfg["auths"][host]
        save_config(cfg)
    return found


def registry_host(ref: str) -> str:
    from dockyard.proto.reference import parse_normalized

    return parse_normalized(ref).domain


def auth_header(host: str) -> dict[str, str]:
    creds = get_credentials(host)
    if not creds:
        return {}
    doc = json.dumps({**creds, "serveraddress": host}).encode()
    return {"X-Registry-Auth": base64.urlsafe_b64encode(doc).decode()}


_QUIET = Flag("quiet", "q", BOOL, "Suppress verbose output")  # pull, push

# -- pull / push ---------------------------------------------------------------------
PULL = Command(
    "pull [OPTIONS] NAME[:TAG|@DIGEST]",
    "Download an image from a registry",
    (
        Flag("all-tags", "a", BOOL, "Download all tagged images in the repository"),
        _QUIET,
        PLATFORM,
    ),
    min_args=1,
    max_args=1,
    aliases=("image pull",),
)


def split_tag(ref: str, all_tags: bool, cli: Cli) -> tuple[str, str]:
    """NAME[:TAG|@DIGEST] -> (name, tag or digest); `latest` unless --all-tags."""
    name, tag = ref, ""
    if "@" in ref:
        name, tag = ref.split("@", 1)
    elif ref.rfind(":") > ref.rfind("/"):
        name, tag = ref[: ref.rfind(":")], ref[ref.rfind(":") + 1 :]
    if not tag and not all_tags:
        cli.out("Using default tag: latest\n")
        tag = "latest"
    return name, tag


def stream(cli: Cli, path: str, params: dict[str, Any], name: str, quiet: bool) -> int:
    """POST a pull/push with the registry's credentials; render its progress."""
    try:
        resp = cli.client.request("POST", path, params, None, auth_header(registry_host(name)))
        show_progress(cli.client.json_stream(resp), _Quiet() if quiet else sys.stdout)
    except ClientError as e:
        cli.err(f"{e}\n")
        return 1
    return 0


@handles(PULL)
def pull(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    ref = args[0]
    name, tag = split_tag(ref, opts["all_tags"], cli)
    params = {"fromImage": name, "tag": tag or None, "platform": opts["platform"] or None}
    if stream(cli, "/images/create", params, name, opts["quiet"]):
        return 1
    if opts["quiet"]:
        cli.out(f"{name}:{tag}\n" if tag and not tag.startswith("sha256:") else f"{ref}\n")
    return 0


class _Quiet:
    def write(self, _s: str) -> None:
        pass

    def flush(self) -> None:
        pass


PUSH = Command(
    "push [OPTIONS] NAME[:TAG]",
    "Upload an image to a registry",
    (
        Flag("all-tags", "a", BOOL, "Push all tags of an image to the repository"),
        _QUIET,
    ),
    min_args=1,
    max_args=1,
    aliases=("image push",),
)


@handles(PUSH)
def push(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    name, tag = split_tag(args[0], opts["all_tags"], cli)
    if stream(cli, f"/images/{name}/push", {"tag": tag or None}, name, opts["quiet"]):
        return 1
    if opts["quiet"]:
        cli.out(f"{args[0]}\n")
    return 0


# -- login / logout --------------------------------------------------------------------
LOGIN = Command(
    "login [OPTIONS] [SERVER]",
    "Authenticate to a registry",
    (
        Flag("username", "u", STRING, "Username", metavar="string"),
        Flag("password", "p", STRING, "Password", metavar="string"),
        Flag("password-stdin", "", BOOL, "Take the password from stdin"),
    ),
    max_args=1,
)


@handles(LOGIN)
def login(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.proto.reference import normalize_host

    host = normalize_host(args[0]) if args else DEFAULT_SERVER
    user, password = opts["username"] or "", opts["password"] or ""
    if opts["password_stdin"]:
        password = sys.stdin.readline().rstrip("\n")
    if not user:
        cli.out("Username: ")
        user = sys.stdin.readline().strip()
    if not password:
        import getpass

        password = getpass.getpass("Password: ")
    try:
        res = cli.client.post(
            "/auth", json_body={"username": user, "password": password, "serveraddress": host}
        )
    except ClientError as e:
        cli.err(f"{e}\n")
        return 1
    store_credentials(host, user, password)
    cli.out(f"{(res or {}).get('Status') or 'Login Succeeded'}\n")
    return 0


LOGOUT = Command("logout [SERVER]", "Log out from a registry", max_args=1)


@handles(LOGOUT)
def logout(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.proto.reference import normalize_host

    host = normalize_host(args[0]) if args else DEFAULT_SERVER
    if erase_credentials(host):
        cli.out(f"Removing login credentials for {host}\n")
    else:
        cli.out(f"Not logged in to {host}\n")
    return 0


COMMANDS = command_table(pull, push, login, logout)


def registry_main(args: list[str]) -> int:
    """`dockyard registry serve|gc ...`: the registry server's own command line."""
    from dockyard.registry.server.main import main as server_main

    server_main(args)
    return 0
