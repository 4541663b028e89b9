"""What the classic builder's RUN takes from the build around it, as dockerd's
legacy builder (builder/dockerfile/dispatchers.go) does it: the environment the
step's container gets, the history line it is committed (and cached) under, the
flags it refuses, and how its stderr is framed in the JSON stream.

Kept apart from builder.py (which runs the container) so that these rules, which
are all about matching dockerd byte for byte, have one home.
"""

from __future__ import annotations

from collections.abc import Mapping

from dockyard.builder.errors import BuildError
from dockyard.dockerfile.stages import PROXY_ARGS

# dockerd's streamformatter.NewStderrWriter: each write of the step's stderr is one
# stream message wrapped in bright red
STDERR_PREFIX = "\x1b[91m"
STDERR_SUFFIX = "\x1b[0m"


def refuse_flags(flags: Mapping[str, str]) -> None:
    """The legacy builder runs no RUN flag (--mount, --network, --security): the
    first one used is refused in dockerd's words."""
    for name in flags:
        raise BuildError(
            f"the --{name} option requires BuildKit. Refer to "
            "https://docs.docker.com/go/buildkit/ to learn how to build images with "
            "BuildKit enabled"
        )


def run_env(
    declared: Mapping[str, str | None],
    buildargs: Mapping[str, str | None],
    config_env: list[str],
) -> tuple[list[str], list[str] | None]:
    """(the RUN container's build-arg environment, the args its history line names).

    The container gets every declared ARG with a value and every proxy arg given
    with --build-arg (declared or not: BuildArgs.FilterAllowed), minus what ENV
    sets. History names them all except undeclared proxy args (which hold
    credentials); it has a `|N` prefix whenever the container got any build arg,
    so a build with only proxy args commits `|0 /bin/sh -c ...` (None: no prefix)."""
    allowed = {k: v for k, v in declared.items() if v is not None}
    for k in PROXY_ARGS:
        v = buildargs.get(k)
        if k not in declared and v is not None:
            allowed[k] = v
    set_by_env = {kv.partition("=")[0] for kv in config_env}
    env = sorted(f"{k}={v}" for k, v in allowed.items() if k not in set_by_env)
    if not env:
        return env, None
    named = [e for e in env if (k := e.partition("=")[0]) in declared or k not in PROXY_ARGS]
    return env, named


def created_by(argv: list[str], named: list[str] | None) -> str:
    """The step's history line: `|N k=v ... argv` when build args were passed."""
    if named is None:
        return " ".join(argv)
    return " ".join([f"|{len(named)}", *named, *argv])


def stream_text(stream: int, data: bytes) -> str:
    """One frame of the step's output as the stream message's text."""
    text = data.decode("utf-8", "replace")
    if stream == 2:
        return STDERR_PREFIX + text + STDERR_SUFFIX
    return text
