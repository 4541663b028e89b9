"""`docker import/commit --change` lines, pure: moby's BuildFromConfig. The
lines are parsed as Dockerfile instructions (`dockerfile.parser`), only the
ones that edit an image's config are allowed (CMD, ENTRYPOINT, ENV, EXPOSE,
HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR), and they run
through the builder's own engine (`dockerfile.config`), with its word expander,
against the config's Env. Errors carry no line (dockerd adds none here).
"""

from __future__ import annotations

import copy
from typing import Any

from dockyard.api.errors import InvalidParameter
from dockyard.dockerfile.config import ConfigState, apply
from dockyard.dockerfile.parser import DockerfileError, parse_line
from dockyard.proto.envvars import env_map

COMMANDS = (
    "CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL",
    "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
)  # fmt: skip


class InvalidChange(InvalidParameter):
    pass


def apply_change(config: dict[str, Any], line: str, cmd_set: bool = False) -> str:
    """Apply one change line to a container config (Docker's `Config` dict) in
    place; returns the instruction. `cmd_set`: a CMD came earlier in the same
    set of changes (then ENTRYPOINT keeps it, as in a Dockerfile)."""
    line = line.strip()
    if not line:
        return ""
    word = line.split(None, 1)[0]
    if word.upper() not in COMMANDS:
        raise InvalidChange(f"{word.lower()} is not a valid change command")
    try:
        ins = parse_line(line, 0)
        apply(ConfigState(config, cmd_set), ins, env_map(config))
    except DockerfileError as exc:
        raise InvalidChange(exc.message) from None
    return ins.cmd


def apply_changes(config: dict[str, Any] | None, lines: list[str]) -> dict[str, Any]:
    """A copy of `config` with every change line applied in order."""
    out = copy.deepcopy(config or {})
    cmd_set = False
    for line in lines:
        for sub in line.split("\n"):
            cmd_set = apply_change(out, sub, cmd_set) == "CMD" or cmd_set
    return out
