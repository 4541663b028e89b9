"""Command specs and a pflag-compatible flag parser (pure, no I/O).

Why not argparse: it costs ~15 ms to import here (a quarter of the start-up
budget) and differs from docker's pflag where users notice: combined shorts
with a trailing value (`-dit`, `-eFOO`, `-e=FOO`), `--rm=false`, stopping at
the image for `run`, and the wording and exit code (125) of flag errors.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

BOOL, STRING, INT, LIST = "bool", "string", "int", "list"


class Flag:
    """One option; `kind` is BOOL, STRING, INT or LIST (repeatable).

    `convert` checks and converts each value as pflag's Value.Set does (a ValueError's
    text follows `invalid argument "V" for "--flag" flag: `); `dest` lets two names
    share one value (docker's hidden aliases such as --net); `hidden` keeps a flag
    out of --help.
    """

    __slots__ = ("long", "short", "kind", "help", "default", "metavar", "convert", "_dest")
    __slots__ += ("hidden",)

    def __init__(
        self,
        long: str,
        short: str = "",
        kind: str = BOOL,
        help: str = "",
        default: Any = None,
        metavar: str = "",
        convert: Callable[[str], Any] | None = None,
        dest: str = "",
        hidden: bool = False,
    ) -> None:
        self.long, self.short, self.kind = long, short, kind
        self.help, self.default, self.metavar = help, default, metavar
        self.convert, self._dest, self.hidden = convert, dest, hidden

    @property
    def dest(self) -> str:
        return self._dest or self.long.replace("-", "_")

    def initial(self) -> Any:
        if self.kind == LIST:
            return list(self.default or [])
        if self.kind == BOOL:
            return bool(self.default)
        return self.default


# Flags several commands share, with docker's own help texts: one home, so they agree.
FORMAT = Flag("format", "", STRING, "Format output using a custom template", metavar="string")
FORMAT_F = Flag("format", "f", STRING, "Format output using a custom template", metavar="string")
NO_TRUNC = Flag("no-trunc", "", BOOL, "Don't truncate output")
PLATFORM = Flag(
    "platform", "", STRING, "Set platform if server is multi-platform capable", metavar="string"
)  # build, import, pull
# ps and stats; ps and container inspect; commit and import; export and save
ALL_CONTAINERS = Flag("all", "a", BOOL, "Show all containers (default shows just running)")
SIZE = Flag("size", "s", BOOL, "Display total file sizes")
CHANGE = Flag("change", "c", LIST, "Apply Dockerfile instruction to the created image")
OUTPUT = Flag("output", "o", STRING, "Write to a file, instead of STDOUT")
# network and volume create; run, create and exec
DRIVER_OPTS = Flag("opt", "o", LIST, "Set driver specific options", metavar="map")
INTERACTIVE = Flag("interactive", "i", BOOL, "Keep STDIN open even if not attached")
TTY = Flag("tty", "t", BOOL, "Allocate a pseudo-TTY")
# docker's, and `docker compose`'s commands that took them as they were: exec's --env (compose
# exec and run), --workdir (compose run), run's --detach (compose run), logs, cp and build
ENV = Flag("env", "e", LIST, "Set environment variables")
WORKDIR = Flag("workdir", "w", STRING, "Working directory inside the container")
DETACH_RUN = Flag("detach", "d", BOOL, "Run container in background and print container ID")
FOLLOW = Flag("follow", "f", BOOL, "Follow log output")
TIMESTAMPS = Flag("timestamps", "t", BOOL, "Show timestamps")
LOGS_SINCE = Flag(
    "since",
    "",
    STRING,
    "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)",
)
ARCHIVE = Flag("archive", "a", BOOL, "Archive mode (copy all uid/gid information)")
FOLLOW_LINK = Flag("follow-link", "L", BOOL, "Always follow symbol link in SRC_PATH")
NO_CACHE = Flag("no-cache", "", BOOL, "Do not use cache when building the image")
PULL = Flag("pull", "", BOOL, "Always attempt to pull a newer version of the image")


class Command:
    """A command as cobra declares one: its use line, description, flags and argument rules
    (plain class: dataclasses costs ~11 ms to import, a fifth of the start-up budget).

    `use` is what --help prints after "Usage:  dockyard": the command's words, then its
    arguments ("stop [OPTIONS] CONTAINER [CONTAINER...]"); `name` is those leading words
    ("stop", or "network create" for a group's command), as cobra's Name() is Use's first.
    """

    __slots__ = ("use", "name", "description", "flags", "min_args", "max_args")
    __slots__ += ("interspersed", "aliases")

    def __init__(
        self,
        use: str,
        description: str,
        flags: tuple[Flag, ...] = (),
        min_args: int = 0,
        max_args: int | None = None,
        interspersed: bool = True,
        aliases: tuple[str, ...] = (),
    ) -> None:
        self.use = use
        self.name = " ".join(_leading_words(use))
        self.description = description
        self.flags = flags
        self.min_args = min_args
        self.max_args = max_args
        self.interspersed = interspersed  # False: flags end at the first positional
        self.aliases = aliases


def _leading_words(use: str) -> list[str]:
    words = []
    for word in use.split(" "):
        if not (word.islower() and word.replace("-", "").isalpha()):
            break  # "[OPTIONS]", "CONTAINER", "file|URL|-": the arguments begin
        words.append(word)
    return words


class UsageError(Exception):
    """A flag error: docker prints it with "See '... --help'." and exits 125."""

    def __init__(self, message: str, status: int = 125, show_usage: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.show_usage = show_usage


def _convert(flag: Flag, name: str, value: str) -> Any:
    if flag.convert is not None:
        try:
            return flag.convert(value)
        except ValueError as e:
            raise UsageError(f'invalid argument "{value}" for "{name}" flag: {e}') from None
    if flag.kind == INT:
        try:
            return int(value)
        except ValueError:
            raise UsageError(
                f'invalid argument "{value}" for "{name}" flag: '
                f'strconv.ParseInt: parsing "{value}": invalid syntax'
            ) from None
    if flag.kind == BOOL:
        lowered = value.lower()
        if lowered in ("1", "t", "true"):
            return True
        if lowered in ("0", "f", "false"):
            return False
        raise UsageError(
            f'invalid argument "{value}" for "{name}" flag: '
            f'strconv.ParseBool: parsing "{value}": invalid syntax'
        )
    return value


def _describe(flag: Flag) -> str:
    return f"-{flag.short}, --{flag.long}" if flag.short else f"--{flag.long}"


def parse(command: Command, argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Flags and positionals of `argv` (the words after the command name).

    `--help` sets the `help` key. Raises UsageError like pflag does.
    """
    longs = {f.long: f for f in command.flags}
    shorts = {f.short: f for f in command.flags if f.short}
    opts: dict[str, Any] = {f.dest: f.initial() for f in command.flags}
    opts["help"] = False
    changed: set[str] = set()
    positionals: list[str] = []

    def store(flag: Flag, name: str, value: str) -> None:
        converted = _convert(flag, name, value)
        if flag.kind == LIST:
            opts[flag.dest].append(converted)
        else:
            opts[flag.dest] = converted
        changed.add(flag.dest)

    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            positionals.extend(argv[i:])
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name == "help" and "help" not in longs:
                opts["help"] = True
                continue
            flag = longs.get(name)
            if flag is None:
                raise UsageError(f"unknown flag: --{name}")
            if flag.kind == BOOL:
                store(flag, _describe(flag), value if eq else "true")
            elif eq:
                store(flag, _describe(flag), value)
            elif i < len(argv):
                store(flag, _describe(flag), argv[i])
                i += 1
            else:
                raise UsageError(f"flag needs an argument: --{name}")
        elif arg.startswith("-") and arg != "-":
            letters = arg[1:]
            j = 0
            while j < len(letters):
                letter = letters[j]
                j += 1
                flag = shorts.get(letter)
                if flag is None:
                    if letter == "h" and "help" not in longs:
                        opts["help"] = True
                        continue
                    raise UsageError(f"unknown shorthand flag: '{letter}' in -{letters}")
                rest = letters[j:]
                if flag.kind == BOOL:
                    if rest.startswith("="):
                        store(flag, _describe(flag), rest[1:])
                        break
                    store(flag, _describe(flag), "true")
                    continue
                if rest:
                    store(flag, _describe(flag), rest[1:] if rest.startswith("=") else rest)
                elif i < len(argv):
                    store(flag, _describe(flag), argv[i])
                    i += 1
                else:
                    raise UsageError(f"flag needs an argument: '{letter}' in -{letter}")
                break
        else:
            positionals.append(arg)
            if not command.interspersed:
                positionals.extend(argv[i:])
                break
    opts["_changed"] = changed
    if not opts["help"]:
        check_args(command, positionals)
    return opts, positionals


def check_args(command: Command, args: list[str]) -> None:
    """Docker's cobra argument checks; these exit 1, not 125."""
    name = f"dockyard {command.name}"
    if command.max_args == 0 and args:
        raise UsageError(f'"{name}" accepts no arguments.', status=1, show_usage=True)
    if len(args) < command.min_args:
        plural = "argument" if command.min_args == 1 else "arguments"
        raise UsageError(
            f'"{name}" requires at least {command.min_args} {plural}.', status=1, show_usage=True
        )
    if command.max_args is not None and len(args) > command.max_args:
        plural = "argument" if command.max_args == 1 else "arguments"
        raise UsageError(
            f'"{name}" requires at most {command.max_args} {plural}.', status=1, show_usage=True
        )


def help_text(command: Command) -> str:
    """`dockyard CMD --help`, laid out like docker's."""
    lines = [
        "",
        f"Usage:  dockyard {command.use}",
        "",
        command.description,
    ]
    if command.aliases:
        lines += ["", "Aliases:", "  " + ", ".join(f"dockyard {a}" for a in command.aliases)]
    entries = [("help", "    --help", "Print usage")]
    for flag in command.flags:
        if flag.hidden:
            continue
        left = f"-{flag.short}, --{flag.long}" if flag.short else f"    --{flag.long}"
        if flag.kind != BOOL:
            left += f" {flag.metavar or flag.kind}"
        entries.append((flag.long, left, flag.help))
    entries.sort()
    width = max(len(left) for _, left, _ in entries)
    lines += ["", "Options:"]
    indent = "\n" + " " * (width + 5)
    lines += [
        f"  {left.ljust(width)}   {text.replace(chr(10), indent)}".rstrip()
        for _, left, text in entries
    ]
    return "\n".join(lines) + "\n"


def usage_error_text(command_name: str, error: UsageError, command: Command | None) -> str:
    """What docker 20.10 prints for a usage error (to stderr)."""
    text = f"{error.message}\nSee 'dockyard {command_name} --help'.\n"
    if error.show_usage and command is not None:
        text += f"\nUsage:  dockyard {command.use}\n\n{command.description}\n"
    return text
