"""Stages of a parsed Dockerfile and the variable expansion rules, pure.

`split_stages` separates the global ARGs (before the first FROM) from the
stages. `expand` applies Docker's substitution to exactly the instructions
the builder expands (ADD, ARG, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL,
USER, VOLUME, WORKDIR, and the flags of COPY/ADD/FROM); RUN, CMD,
ENTRYPOINT, SHELL and HEALTHCHECK are left to the shell at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dockyard.dockerfile.parser import Dockerfile, DockerfileError, Instruction
from dockyard.dockerfile.shell import ShellError, process_word

EXPANDED = frozenset(
    ("ADD", "ARG", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER", "VOLUME",
     "WORKDIR")
)  # fmt: skip

# Args every build knows without declaring them (and keeps out of history).
PROXY_ARGS = (
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
    "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
)  # fmt: skip


@dataclass
class Stage:
    index: int
    base: str  # unexpanded image name (or earlier stage)
    name: str  # lower-cased `AS name`, or ""
    platform: str
    from_ins: Instruction
    instructions: list[Instruction] = field(default_factory=list)


def split_stages(df: Dockerfile) -> tuple[list[Instruction], list[Stage]]:
    global_args: list[Instruction] = []
    stages: list[Stage] = []
    for ins in df.instructions:
        if ins.cmd == "FROM":
            a = ins.args
            if len(a) not in (1, 3) or (len(a) == 3 and a[1].lower() != "as"):
                raise DockerfileError("FROM requires either one or three arguments", ins.line)
            name = a[2].lower() if len(a) == 3 else ""
            if name and any(s.name == name for s in stages):
                raise DockerfileError(f"duplicate stage name {name!r}", ins.line)
            stages.append(Stage(len(stages), a[0], name, ins.flags.get("platform", ""), ins))
        elif not stages:
            if ins.cmd != "ARG":
                raise DockerfileError("no build stage in current context", ins.line)
            global_args.append(ins)
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise DockerfileError("no build stage in current context")
    return global_args, stages


def word(ins: Instruction, text: str, env: Mapping[str, str], escape: str) -> str:
    try:
        return process_word(text, env, escape)
    except ShellError as exc:
        raise DockerfileError(str(exc), ins.line) from None


def expand(ins: Instruction, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """The instruction's args after substitution (unchanged if not expanded)."""
    if ins.cmd not in EXPANDED:
        return list(ins.args)
    if ins.cmd == "ENV" and len(ins.args) == 2 and "=" not in ins.original.split(None, 2)[1]:
        return [word(ins, ins.args[0], env, escape), word(ins, ins.args[1], env, escape)]
    return [word(ins, a, env, escape) for a in ins.args]


def expand_flags(ins: Instruction, env: Mapping[str, str], escape: str = "\\") -> dict[str, str]:
    return {k: word(ins, v, env, escape) for k, v in ins.flags.items()}
