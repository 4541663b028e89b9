"""`dockyard compose` / `docker compose`: global flags, the command table, dispatch.

Flags are parsed by the CLI's pflag-compatible parser (`dockyard.cli.flags`), so
`-f a.yml -f b.yml`, `--scale web=3` and `-dV` read as docker's do. A command's
handler (in `commands`) gets a `Context`: the options, a lazily loaded project
and a lazily built client. Errors print as Compose v2 prints them and exit 1.
"""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import (
    ARCHIVE,
    BOOL,
    DETACH_RUN,
    ENV,
    FOLLOW,
    FOLLOW_LINK,
    INT,
    LIST,
    LOGS_SINCE,
    NO_CACHE,
    NO_TRUNC,
    PULL,
    STRING,
    TIMESTAMPS,
    WORKDIR,
    Command,
    Flag,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

GLOBAL = Command(
    "compose [OPTIONS] COMMAND", "Define and run multi-container applications with Docker",
    (
        Flag("file", "f", LIST, "Compose configuration files", metavar="stringArray"),
        Flag("project-name", "p", STRING, "Project name"),
        Flag("profile", "", LIST, "Specify a profile to enable", metavar="stringArray"),
        Flag("env-file", "", LIST, "Specify an alternate environment file", metavar="stringArray"),
        Flag("project-directory", "", STRING, "Specify an alternate working directory"),
        Flag("progress", "", STRING, 'Set type of progress output ("auto", "tty", "plain", "json", "quiet")'),
        Flag("ansi", "", STRING, 'Control when to print ANSI control characters ("never"|"always"|"auto")'),
        Flag("parallel", "", INT, "Control max parallelism, -1 for unlimited", default=-1),
        Flag("compatibility", "", BOOL, "Run compose in backward compatibility mode"),
        Flag("dry-run", "", BOOL, "Execute command in dry run mode (not supported: refused)"),
        Flag("all-resources", "", BOOL, "Include all resources, even those not used by services"),
        Flag("version", "v", BOOL, "Show the Docker Compose version information", hidden=True),
    ),
    interspersed=False,
)  # fmt: skip

# flags several commands take, with Compose v2's help texts
_T = Flag("timeout", "t", INT, "Specify a shutdown timeout in seconds")
_ORPHANS = Flag("remove-orphans", "", BOOL, "Remove containers for services not defined in the Compose file")  # fmt: skip
_NO_DEPS = Flag("no-deps", "", BOOL, "Don't start linked services")
_QUIET_PULL = Flag("quiet-pull", "", BOOL, "Pull without printing progress information")
_LOG_STYLE = (Flag("no-color", "", BOOL, "Produce monochrome output"),
              Flag("no-log-prefix", "", BOOL, "Don't print prefix in logs"))  # fmt: skip
_INTERACTIVE = Flag("interactive", "i", BOOL, "Keep STDIN open even if not attached", default=True)  # fmt: skip
_QUIET_IDS = Flag("quiet", "q", BOOL, "Only display IDs")
_FORMAT_TABLE = Flag("format", "", STRING, "Format the output. Values: [table | json]", default="table")  # fmt: skip
_INDEX = Flag("index", "", INT, "Index of the container if service has multiple replicas", default=0)  # fmt: skip
# what `create` takes, and `up` too (it creates first), as Compose v2's createOptions
_CREATE = (
    Flag("build", "", BOOL, "Build images before starting containers"),
    Flag("no-build", "", BOOL, "Don't build an image, even if it's policy"),
    Flag("force-recreate", "", BOOL, "Recreate containers even if their configuration and image haven't changed"),
    Flag("no-recreate", "", BOOL, "If containers already exist, don't recreate them."),
    _ORPHANS,
    Flag("scale", "", LIST, "Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present."),
    Flag("pull", "", STRING, 'Pull image before running ("always"|"missing"|"never")'),
)  # fmt: skip
_PS_FORMAT = "Format output using a custom template:\n'table', 'json' or a Go template"


def _cmd(use: str, desc: str, *flags: Flag, **kw: Any) -> Command:
    return Command(f"compose {use}", desc, tuple(flags), **kw)


COMMANDS: dict[str, Command] = {
    "up": _cmd("up [OPTIONS] [SERVICE...]", "Create and start containers",
               Flag("detach", "d", BOOL, "Detached mode: Run containers in the background"),
               *_CREATE,
               Flag("wait", "", BOOL, "Wait for services to be running|healthy. Implies detached mode."),
               Flag("wait-timeout", "", INT, "Maximum duration in seconds to wait for the project to be running|healthy"),
               _NO_DEPS,
               Flag("abort-on-container-exit", "", BOOL, "Stops all containers if any container was stopped."),
               Flag("exit-code-from", "", STRING, "Return the exit code of the selected service container."),
               Flag("attach", "", LIST, "Restrict attaching to the specified services."),
               Flag("no-attach", "", LIST, "Do not attach (stream logs) to the specified services"),
               Flag("renew-anon-volumes", "V", BOOL, "Recreate anonymous volumes instead of retrieving data from the previous containers"),
               Flag("no-start", "", BOOL, "Don't start the services after creating them"),
               _QUIET_PULL,
               *_LOG_STYLE,
               Flag("always-recreate-deps", "", BOOL, "Recreate dependent containers."),
               Flag("timestamps", "", BOOL, "Show timestamps"), _T),
    "down": _cmd("down [OPTIONS] [SERVICES]", "Stop and remove containers, networks",
                 Flag("volumes", "v", BOOL, "Remove named volumes declared in the \"volumes\" section of the Compose file and anonymous volumes attached to containers"),
                 Flag("rmi", "", STRING, 'Remove images used by services. "local" remove only images that don\'t have a custom tag ("local"|"all")'),
                 _ORPHANS, _T),
    "create": _cmd("create [OPTIONS] [SERVICE...]", "Creates containers for a service",
                   *_CREATE),
    "ps": _cmd("ps [OPTIONS] [SERVICE...]", "List containers",
               Flag("all", "a", BOOL, "Show all stopped containers (including those created by the run command)"),
               _QUIET_IDS,
               Flag("services", "", BOOL, "Display services"),
               Flag("status", "", LIST, "Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]"),
               Flag("filter", "", STRING, "Filter services by a property (supported filters: status)"),
               Flag("format", "", STRING, _PS_FORMAT, default="table"),
               NO_TRUNC,
               Flag("orphans", "", BOOL, "Include orphaned services (not declared by project)", default=True)),
    "logs": _cmd("logs [OPTIONS] [SERVICE...]", "View output from containers",
                 FOLLOW,
                 Flag("tail", "n", STRING, 'Number of lines to show from the end of the logs for each container', default="all"),
                 TIMESTAMPS,
                 LOGS_SINCE,
                 Flag("until", "", STRING, "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)"),
                 *_LOG_STYLE,
                 Flag("index", "", INT, "index of the container if service has multiple replicas")),
    "exec": _cmd("exec [OPTIONS] SERVICE COMMAND [ARGS...]", "Execute a command in a running container",
                 Flag("detach", "d", BOOL, "Detached mode: Run command in the background"),
                 Flag("no-TTY", "T", BOOL, "Disable pseudo-TTY allocation. By default `docker compose exec` allocates a TTY.", dest="no_tty"),
                 _INTERACTIVE,
                 ENV,
                 Flag("user", "u", STRING, "Run the command as this user"),
                 Flag("workdir", "w", STRING, "Path to workdir directory for this command"),
                 Flag("privileged", "", BOOL, "Give extended privileges to the process"),
                 _INDEX,
                 min_args=2, interspersed=False),
    "run": _cmd("run [OPTIONS] SERVICE [COMMAND] [ARGS...]", "Run a one-off command on a service",
                Flag("rm", "", BOOL, "Automatically remove the container when it exits"),
                DETACH_RUN,
                Flag("no-TTY", "T", BOOL, "Disable pseudo-TTY allocation (default: auto-detected)", dest="no_tty"),
                _INTERACTIVE,
                ENV,
                Flag("label", "l", LIST, "Add or override a label"),
                Flag("name", "", STRING, "Assign a name to the container"),
                Flag("entrypoint", "", STRING, "Override the entrypoint of the image"),
                Flag("publish", "p", LIST, "Publish a container's port(s) to the host"),
                Flag("service-ports", "", BOOL, "Run command with all service's ports enabled and mapped to the host"),
                Flag("use-aliases", "", BOOL, "Use the service's network useAliases in the network(s) the container connects to"),
                Flag("volume", "v", LIST, "Bind mount a volume"),
                Flag("user", "u", STRING, "Run as specified username or uid"),
                WORKDIR,
                _NO_DEPS,
                Flag("build", "", BOOL, "Build image before starting container"),
                _ORPHANS,
                _QUIET_PULL,
                min_args=1, interspersed=False),
    "build": _cmd("build [OPTIONS] [SERVICE...]", "Build or rebuild services",
                  NO_CACHE,
                  PULL,
                  Flag("build-arg", "", LIST, "Set build-time variables for services"),
                  Flag("quiet", "q", BOOL, "Don't print anything to STDOUT"),
                  Flag("progress", "", STRING, "Set type of ui output (auto, tty, plain, json, quiet)"),
                  Flag("with-dependencies", "", BOOL, "Also build dependencies (transitively)")),
    "pull": _cmd("pull [OPTIONS] [SERVICE...]", "Pull service images",
                 Flag("quiet", "q", BOOL, "Pull without printing progress information"),
                 Flag("ignore-pull-failures", "", BOOL, "Pull what it can and ignores images with pull failures"),
                 Flag("ignore-buildable", "", BOOL, "Ignore images that can be built"),
                 Flag("include-deps", "", BOOL, "Also pull services declared as dependencies")),
    "push": _cmd("push [OPTIONS] [SERVICE...]", "Push service images",
                 Flag("quiet", "q", BOOL, "Push without printing progress information"),
                 Flag("ignore-push-failures", "", BOOL, "Push what it can and ignores images with push failures"),
                 Flag("include-deps", "", BOOL, "Also push images of services declared as dependencies")),
    "config": _cmd("config [OPTIONS] [SERVICE...]", "Parse, resolve and render compose file in canonical format",
                   Flag("format", "", STRING, 'Format the output. Values: [yaml | json]', default="yaml"),
                   Flag("quiet", "q", BOOL, "Only validate the configuration, don't print anything"),
                   Flag("services", "", BOOL, "Print the service names, one per line."),
                   Flag("volumes", "", BOOL, "Print the volume names, one per line."),
                   Flag("networks", "", BOOL, "Print the network names, one per line."),
                   Flag("profiles", "", BOOL, "Print the profile names, one per line."),
                   Flag("images", "", BOOL, "Print the image names, one per line."),
                   Flag("output", "o", STRING, "Save to file (default to stdout)"),
                   aliases=("convert",)),
    "start": _cmd("start [SERVICE...]", "Start services"),
    "stop": _cmd("stop [OPTIONS] [SERVICE...]", "Stop services", _T),
    "restart": _cmd("restart [OPTIONS] [SERVICE...]", "Restart service containers", _T,
                    Flag("no-deps", "", BOOL, "Don't restart dependent services")),
    "kill": _cmd("kill [OPTIONS] [SERVICE...]", "Force stop service containers",
                 Flag("signal", "s", STRING, "SIGNAL to send to the container", default="SIGKILL"),
                 _ORPHANS),
    "rm": _cmd("rm [OPTIONS] [SERVICE...]", "Removes stopped service containers",
               Flag("force", "f", BOOL, "Don't ask to confirm removal"),
               Flag("stop", "s", BOOL, "Stop the containers, if required, before removing"),
               Flag("volumes", "v", BOOL, "Remove any anonymous volumes attached to containers")),
    "pause": _cmd("pause [SERVICE...]", "Pause services"),
    "unpause": _cmd("unpause [SERVICE...]", "Unpause services"),
    "top": _cmd("top [SERVICES...]", "Display the running processes"),
    "port": _cmd("port [OPTIONS] SERVICE PRIVATE_PORT", "Print the public port for a port binding",
                 Flag("protocol", "", STRING, "tcp or udp", default="tcp"),
                 _INDEX,
                 min_args=2, max_args=2),
    "cp": _cmd("cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n\tdocker compose cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH",
               "Copy files/folders between a service container and the local filesystem",
               _INDEX,
               Flag("all", "", BOOL, "Include containers created by the run command"),
               ARCHIVE,
               FOLLOW_LINK,
               min_args=2, max_args=2),
    "images": _cmd("images [OPTIONS] [SERVICE...]", "List images used by the created containers",
                   _QUIET_IDS,
                   _FORMAT_TABLE),
    "ls": _cmd("ls [OPTIONS]", "List running compose projects",
               Flag("all", "a", BOOL, "Show all stopped Compose projects"),
               Flag("quiet", "q", BOOL, "Only display project names"),
               _FORMAT_TABLE,
               Flag("filter", "", LIST, "Filter output based on conditions provided"), max_args=0),
    "version": _cmd("version [OPTIONS]", "Show the Docker Compose version information",
                    Flag("short", "", BOOL, "Shows only Compose's version number"),
                    Flag("format", "f", STRING, "Format the output. Values: [pretty | json]"), max_args=0),
    "wait": _cmd("wait SERVICE [SERVICE...] [OPTIONS]", "Block until containers of all (or specified) services stop.",
                 Flag("down-project", "", BOOL, "Drops project when the first container stops"), min_args=1),
    "watch": _cmd("watch [SERVICE...]", "Watch build context for service and rebuild/refresh containers when files are updated",
                  Flag("no-up", "", BOOL, "Do not build & start services before watching"),
                  Flag("prune", "", BOOL, "Prune dangling images on rebuild", default=True),
                  Flag("quiet", "", BOOL, "hide build output")),
    "events": _cmd("events [OPTIONS] [SERVICE...]", "Receive real time events from containers",
                   Flag("json", "", BOOL, "Output events as a stream of json objects")),
}  # fmt: skip
ALIASES = {"convert": "config"}
# commands that print no progress of their own but need none of the model
NO_PROJECT = {"ls", "version"}
# commands that need no daemon
OFFLINE = {"config", "version"}


def usage(prog: str = "docker compose") -> str:
    from dockyard.cli.flags import help_text

    options = help_text(GLOBAL).split("\nOptions:\n", 1)[1]
    lines = ["", f"Usage:  {prog} [OPTIONS] COMMAND", "", GLOBAL.description, "",
             "Options:", options.rstrip("\n"), "", "Commands:"]  # fmt: skip
    for name in sorted(COMMANDS):
        lines.append(f"  {name.ljust(10)}  {COMMANDS[name].description}")
    lines += ["", f"Run '{prog} COMMAND --help' for more information on a command."]
    return "\n".join(lines) + "\n"


HANDLERS = {
    **dict.fromkeys(("config", "ps", "logs", "top", "port", "images", "ls", "version", "events"),
                    "views"),
    **dict.fromkeys(("exec", "run", "cp", "build", "pull", "push"), "oneoff"),
}  # fmt: skip


def _take_sigint() -> None:
    """Ctrl-C stops a foreground `up` even when we were started with SIGINT ignored (a
    background job of a shell without job control, `nohup`-like launchers), as Compose v2
    does: Go's signal.Notify takes an ignored SIGINT back. Python leaves it ignored."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(
    argv: list[str] | None = None, prog: str = "docker compose", host: str | None = None
) -> int:
    from dockyard.cli.flags import UsageError, help_text, parse

    argv = sys.argv[1:] if argv is None else argv
    _take_sigint()
    try:
        gopts, rest = parse(GLOBAL, argv)
    except UsageError as e:
        sys.stderr.write(f"{e.message}\n")
        return 1
    if gopts["version"]:
        rest = ["version"]
    if gopts["dry_run"]:  # refused rather than ignored: a user would believe nothing changed
        sys.stderr.write("--dry-run is not supported by Dockyard's compose\n")
        return 1
    if gopts["help"] or not rest:
        sys.stdout.write(usage(prog))
        return 0
    name, args = ALIASES.get(rest[0], rest[0]), rest[1:]
    command = COMMANDS.get(name)
    if command is None:
        sys.stderr.write(f'unknown docker command: "compose {name}"\n')
        return 1
    try:
        opts, positionals = parse(command, args)
    except UsageError as e:
        sys.stderr.write(f"{e.message}\n")
        return 1
    if opts["help"]:
        sys.stdout.write(help_text(command).replace("dockyard compose", prog))
        return 0
    import importlib

    from dockyard.client.errors import ClientError
    from dockyard.compose import commands
    from dockyard.compose.errors import ComposeError

    module = importlib.import_module(f"dockyard.compose.{HANDLERS.get(name, 'commands')}")
    ctx = commands.Context(gopts, os.environ, host)
    if name not in OFFLINE:
        ctx.negotiate()
    try:
        return getattr(module, f"cmd_{name}")(ctx, opts, positionals) or 0
    except (ComposeError, ClientError) as e:
        sys.stdout.flush()
        sys.stderr.write(f"{e}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
