"""`dockyard`: global flags, command lookup, error reporting and exit codes.

A command module declares each handler's Command with `@handles(SPEC)` and its
COMMANDS with `command_table(handler, ...)`; `_MODULES` says which module to import.

Start-up is the budget: this module imports only `sys` and `os`; a command's
module (and the client) is imported when that command runs.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from dockyard.cli.flags import Command

    class Handler(Protocol):
        """A command's handler, marked with its Command by `handles`."""

        command: Command

        def __call__(self, cli: Cli, opts: dict[str, Any], args: list[str]) -> int: ...


VERSION = "0.1.0"

# command -> module under dockyard.cli that defines it in its COMMANDS table
_MODULES = {
    "run": "container",
    "create": "container",
    "start": "container",
    "ps": "ps",
    "logs": "logs",
    "stop": "lifecycle",
    "kill": "lifecycle",
    "rm": "lifecycle",
    "restart": "lifecycle",
    "wait": "lifecycle",
    "images": "image",
    "import": "image",
    "tag": "image",
    "rmi": "image",
    "history": "image",
    "save": "save",
    "build": "build",
    "commit": "commit",
    "load": "save",
    "image prune": "prune",
    "inspect": "system",
    "version": "system",
    "info": "system",
    "update": "lifecycle",
    "events": "lifecycle",
    "pull": "registry",
    "push": "registry",
    "login": "registry",
    "logout": "registry",
    "exec": "exec",
    "attach": "exec",
    "cp": "cp",
    "top": "top",
    "stats": "stats",
    "pause": "top",
    "unpause": "top",
    "rename": "top",
    "diff": "top",
    "export": "cp",
    "port": "prune",
    "search": "search",
    "container prune": "prune",
    "system prune": "prune",
    "builder prune": "prune",
    "context ls": "context",
    "context show": "context",
}
_MODULES.update({f"network {c}": "network" for c in
                 ("create", "ls", "inspect", "rm", "connect", "disconnect")})  # fmt: skip
_MODULES.update({f"volume {c}": "volume" for c in ("create", "ls", "inspect", "rm")})
_MODULES.update({"volume prune": "prune", "network prune": "prune"})
# management commands: `dockyard container ls` runs `ps`, and so on
_GROUPS = {
    "container": {
        "ls": "ps",
        "list": "ps",
        "ps": "ps",
        "rm": "rm",
        "remove": "rm",
        "inspect": "container inspect",
        **{c: c for c in ("run", "create", "start", "logs", "stop", "kill", "restart", "wait")},
        "update": "update",
        "commit": "commit",
        **{c: c for c in ("exec", "attach", "cp", "top", "stats", "pause", "unpause")},
        **{c: c for c in ("rename", "diff", "export", "port")},
        "prune": "container prune",
    },
    "image": {
        "ls": "images",
        "list": "images",
        "import": "import",
        "tag": "tag",
        "rm": "rmi",
        "remove": "rmi",
        "inspect": "image inspect",
        "history": "history",
        "prune": "image prune",
        "save": "save",
        "load": "load",
        "pull": "pull",
        "push": "push",
        "build": "build",
    },
    "network": {
        **{
            c: f"network {c}"
            for c in ("create", "ls", "inspect", "rm", "prune", "connect", "disconnect")
        },  # fmt: skip
        "list": "network ls",
        "remove": "network rm",
    },
    "volume": {
        **{c: f"volume {c}" for c in ("create", "ls", "inspect", "rm", "prune")},
        "list": "volume ls",
        "remove": "volume rm",
    },
    "builder": {"prune": "builder prune", "build": "build"},
    "context": {"ls": "context ls", "list": "context ls", "show": "context show"},
    "system": {"info": "info", "df": "system df", "events": "events", "prune": "system prune"},
}

_USAGE = """
Usage:  dockyard [OPTIONS] COMMAND

A container engine: build, ship and run applications in containers

Options:
  -D, --debug              Enable debug mode
  -H, --host string        Daemon socket to connect to (default
                           unix:///run/dockyard/dockyard.sock, or $DOCKYARD_HOST)
  -l, --log-level string   Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")
  -v, --version            Print version information and quit

Management Commands:
  builder     Manage builds
  compose     Define and run multi-container applications (the Compose Specification)
  container   Manage containers
  context     Manage contexts
  image       Manage images
  network     Manage networks
  registry    Run a registry server (serve, gc)
  volume      Manage volumes
  system      Manage Dockyard

Commands:
  attach      Attach local standard input, output, and error streams to a running container
  build       Build an image from a Dockerfile
  commit      Create a new image from a container's changes
  cp          Copy files/folders between a container and the local filesystem
  create      Create a new container
  diff        Inspect changes to files or directories on a container's filesystem
  events      Get real time events from the server
  exec        Execute a command in a running container
  export      Export a container's filesystem as a tar archive
  images      List images
  import      Import the contents from a tarball to create a filesystem image
  history     Show the history of an image
  info        Display system-wide information
  inspect     Return low-level information on Dockyard objects
  kill        Kill one or more running containers
  load        Load an image from a tar archive or STDIN
  login       Authenticate to a registry
  logout      Log out from a registry
  logs        Fetch the logs of a container
  pause       Pause all processes within one or more containers
  port        List port mappings or a specific mapping for the container
  ps          List containers
  pull        Download an image from a registry
  push        Upload an image to a registry
  rename      Rename a container
  restart     Restart one or more containers
  rm          Remove one or more containers
  rmi         Remove one or more images
  run         Run a command in a new container
  save        Save one or more images to a tar archive (streamed to STDOUT by default)
  search      Search a registry for images
  start       Start one or more stopped containers
  stats       Display a live stream of container(s) resource usage statistics
  stop        Stop one or more running containers
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
  top         Display the running processes of a container
  unpause     Unpause all processes within one or more containers
  update      Update configuration of one or more containers
  version     Show the Dockyard version information
  wait        Block until one or more containers stop, then print their exit codes

Run 'dockyard COMMAND --help' for more information on a command.
"""


def handles(command: Command) -> Callable[[Callable[..., int]], Handler]:
    """Marks the decorated function as `command`'s handler, for its module's `command_table`."""

    def mark(handler: Any) -> Handler:
        handler.command = command
        return handler

    return mark


def command_table(*handlers: Handler) -> dict[str, tuple[Command, Handler]]:
    """A command module's COMMANDS: each handler and its Command under the command's name,
    the key `main` looks up after importing the module `_MODULES` names."""
    return {h.command.name: (h.command, h) for h in handlers}


class Cli:
    """What a command handler gets: the output streams and a lazily built client."""

    def __init__(self, host: str | None) -> None:
        self.host_flag = host
        self._client: Any = None
        self.stdout = sys.stdout
        self.stderr = sys.stderr

    @property
    def client(self) -> Any:
        if self._client is None:
            from dockyard.client.api import Client, resolve_host

            self._client = Client(resolve_host(self.host_flag, os.environ))
        return self._client

    def out(self, text: str) -> None:
        self.stdout.write(text)

    def err(self, text: str) -> None:
        self.stdout.flush()
        self.stderr.write(text)
        self.stderr.flush()


def _global_flags(argv: list[str]) -> tuple[dict[str, Any], int] | int:
    """Parse flags before the command; an int is an exit status (handled already)."""
    opts: dict[str, Any] = {"host": None}
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in ("-H", "--host", "-l", "--log-level", "--config", "--context", "-c"):
            if not eq:
                if i + 1 >= len(argv):
                    sys.stderr.write(f"flag needs an argument: {name}\nSee 'dockyard --help'.\n")
                    return 125
                value = argv[i + 1]
                i += 1
            if name in ("-H", "--host"):
                opts["host"] = value
        elif arg.startswith("-H"):
            opts["host"] = arg[2:]
        elif arg in ("-v", "--version"):
            sys.stdout.write(f"Dockyard version {VERSION}\n")
            return 0
        elif arg in ("-h", "--help"):
            sys.stdout.write(_USAGE)
            return 0
        elif arg in ("-D", "--debug"):
            pass
        else:
            sys.stderr.write(f"unknown flag: {name}\nSee 'dockyard --help'.\n")
            return 125
        i += 1
    return opts, i


def _lookup(argv: list[str], start: int) -> tuple[str, str, list[str]] | int:
    """(command name for messages, command key, its arguments), or an exit status."""
    word = argv[start]
    rest = argv[start + 1 :]
    if word in _GROUPS:
        if not rest or rest[0] in ("-h", "--help"):
            subs = "\n".join(f"  {s}" for s in sorted(_GROUPS[word]))
            sys.stdout.write(f"\nUsage:  dockyard {word} COMMAND\n\nCommands:\n{subs}\n")
            return 0
        key = _GROUPS[word].get(rest[0])
        if key is None:
            sys.stderr.write(
                f"dockyard: '{word} {rest[0]}' is not a dockyard command.\n"
                f"See 'dockyard {word} --help'\n"
            )
            return 1
        return f"{word} {rest[0]}", key, rest[1:]
    if word not in _MODULES:
        sys.stderr.write(f"dockyard: '{word}' is not a dockyard command.\nSee 'dockyard --help'\n")
        return 1
    return word, word, rest


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parsed = _global_flags(argv)
    if isinstance(parsed, int):
        return parsed
    global_opts, start = parsed
    if start >= len(argv):
        sys.stdout.write(_USAGE)
        return 0
    if argv[start] == "compose":  # Compose has its own flags and command table
        from dockyard.client.api import resolve_host
        from dockyard.compose.cli import main as compose_main

        return compose_main(
            argv[start + 1 :], "dockyard compose", resolve_host(global_opts["host"], os.environ)
        )
    if argv[start] == "registry":  # the registry server has its own command line
        from dockyard.cli.registry import registry_main

        return registry_main(argv[start + 1 :])
    found = _lookup(argv, start)
    if isinstance(found, int):
        return found
    display_name, key, args = found
    module_name = _MODULES[key] if key in _MODULES else "system"
    import importlib

    module = importlib.import_module(f"dockyard.cli.{module_name}")
    command, handler = module.COMMANDS[key]

    from dockyard.cli.flags import UsageError, help_text, parse, usage_error_text

    try:
        opts, positionals = parse(command, args)
    except UsageError as e:
        sys.stderr.write(usage_error_text(display_name, e, command))
        return e.status
    if opts["help"]:
        sys.stdout.write(help_text(command))
        return 0

    from dockyard.client.errors import ClientError

    cli = Cli(global_opts["host"])
    try:
        status = handler(cli, opts, positionals) or 0
    except ClientError as e:
        cli.err(f"{e}\n")
        status = 1
    except KeyboardInterrupt:
        status = 130
    except BrokenPipeError:
        status = 0
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    return status
