"""The one engine for the Dockerfile instructions that only edit an image's
config (CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, MAINTAINER, ONBUILD,
SHELL, STOPSIGNAL, USER, VOLUME, WORKDIR), pure.

Shared by the builder (each step) and `docker import/commit --change` (moby's
BuildFromConfig parses the change lines as a Dockerfile and runs the same
dispatchers), so both expand words with the one lexer (`dockerfile.shell`,
through `stages.expand`) against the env in force *before* the instruction,
and both write the history text dockerd writes (`ENV a=b`, `CMD ["sh"]`).
WORKDIR's directory (a layer) is the builder's business; here only the config.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.dockerfile.parser import DockerfileError, Instruction
from dockyard.dockerfile.stages import expand
from dockyard.proto.envvars import replace_or_append_env
from dockyard.proto.timetypes import go_duration

__all__ = ["CONFIG_INSTRUCTIONS", "DEFAULT_SHELL", "ConfigState", "apply", "expand_port", "shell"]

CONFIG_INSTRUCTIONS = frozenset(
    ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD",
     "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")
)  # fmt: skip
DEFAULT_SHELL = ["/bin/sh", "-c"]
_HEALTH_FLAGS = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod",
                 "start-interval": "StartInterval"}  # fmt: skip


@dataclass
class ConfigState:
    """What a config instruction edits: the container config (Docker's `Config`),
    whether a CMD came earlier (then ENTRYPOINT keeps it) and the author."""

    config: dict[str, Any]
    cmd_set: bool = False
    author: str = ""


def shell(config: dict[str, Any]) -> list[str]:
    """The shell a shell-form command runs under (SHELL, else /bin/sh -c)."""
    return list(config.get("Shell") or DEFAULT_SHELL)


def apply(st: ConfigState, ins: Instruction, env: Mapping[str, str], escape: str = "\\") -> str:
    """Apply one config instruction to `st` in place; returns the history text.
    `env`: the variables in force before the instruction (build args and Env)."""
    cc = st.config
    cmd = ins.cmd
    args = expand(ins, env, escape)
    if cmd == "ENV":
        pairs = list(zip(args[::2], args[1::2], strict=True))
        envl = list(cc.get("Env") or [])
        for k, v in pairs:
            envl = replace_or_append_env(envl, f"{k}={v}")
        cc["Env"] = envl
        return "ENV " + " ".join(f"{k}={v}" for k, v in pairs)
    if cmd == "LABEL":
        pairs = list(zip(args[::2], args[1::2], strict=True))
        labels = dict(cc.get("Labels") or {})
        labels.update(pairs)
        cc["Labels"] = labels
        return "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)
    if cmd in ("CMD", "ENTRYPOINT"):
        argv = ins.args if ins.json else (shell(cc) + ins.args if ins.args else [])
        if cmd == "CMD":
            cc["Cmd"] = argv
            st.cmd_set = True
        else:
            cc["Entrypoint"] = argv or None
            if not st.cmd_set:
                cc["Cmd"] = None  # an inherited CMD does not survive a new ENTRYPOINT
        return f"{cmd} {go_quote(argv)}"
    if cmd == "WORKDIR":
        if not args or not args[0]:
            raise DockerfileError("WORKDIR requires exactly one argument", ins.line)
        cc["WorkingDir"] = posixpath.normpath(posixpath.join(cc.get("WorkingDir") or "/", args[0]))
        return f"WORKDIR {cc['WorkingDir']}"
    if cmd in ("USER", "STOPSIGNAL"):
        if len(args) != 1 or not args[0]:
            raise DockerfileError(f"{cmd} requires exactly one argument", ins.line)
        cc["User" if cmd == "USER" else "StopSignal"] = args[0]
        return f"{cmd} {args[0]}"
    if cmd == "EXPOSE":
        ports = dict(cc.get("ExposedPorts") or {})
        for a in args:
            for p in expand_port(a, ins.line):
                ports[p] = {}
        cc["ExposedPorts"] = ports
        return "EXPOSE " + " ".join(sorted(args))
    if cmd == "VOLUME":
        if not args or any(not a.strip() for a in args):
            raise DockerfileError("VOLUME specified can not be an empty string", ins.line)
        vols = dict(cc.get("Volumes") or {})
        for a in args:
            vols[a] = {}
        cc["Volumes"] = vols
        return f"VOLUME [{' '.join(args)}]"
    if cmd == "SHELL":
        cc["Shell"] = list(ins.args)
        return f"SHELL [{' '.join(ins.args)}]"
    if cmd == "HEALTHCHECK":
        cc["Healthcheck"] = _healthcheck(ins)
        return f"HEALTHCHECK {_go_healthcheck(cc['Healthcheck'])}"
    if cmd == "ONBUILD":
        cc["OnBuild"] = [*(cc.get("OnBuild") or []), ins.args[0]]
        return f"ONBUILD {ins.args[0]}"
    if cmd == "MAINTAINER":
        st.author = args[0] if args else ""
        return f"MAINTAINER {st.author}"
    raise DockerfileError(f"unknown instruction: {cmd}", ins.line)


def expand_port(w: str, line: int = 0) -> list[str]:
    """An EXPOSE word (`80`, `53/udp`, `8000-8002`) as Docker's port keys."""
    port, _, proto = w.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise DockerfileError(f"invalid proto: {proto}", line)
    lo, _, hi = port.partition("-")
    try:
        a = int(lo)
        b = int(hi) if hi else a
    except ValueError:
        raise DockerfileError(f"invalid containerPort: {port}", line) from None
    if not (0 < a <= 65535 and 0 < b <= 65535) or b < a:
        raise DockerfileError(f"invalid range specified for containerPort: {port}", line)
    return [f"{p}/{proto}" for p in range(a, b + 1)]


def _healthcheck(ins: Instruction) -> dict[str, Any]:
    if ins.args == ["NONE"]:
        if ins.flags:
            raise DockerfileError("HEALTHCHECK NONE takes no arguments", ins.line)
        return {"Test": ["NONE"]}
    argv = ins.args[1:]
    test = ["CMD", *argv] if ins.json else ["CMD-SHELL", argv[0]]
    hc: dict[str, Any] = {"Test": test}
    for flag, val in ins.flags.items():
        if flag == "retries":
            try:
                hc["Retries"] = int(val)
            except ValueError:
                raise DockerfileError(f'invalid retries value "{val}"', ins.line) from None
        else:
            try:
                hc[_HEALTH_FLAGS[flag]] = go_duration(val)
            except ValueError as exc:
                raise DockerfileError(str(exc), ins.line) from None
    return hc


def go_duration_string(ns: int) -> str:
    """Go's time.Duration.String() for the values a HEALTHCHECK takes."""
    if ns == 0:
        return "0s"
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return f"{ns / size:g}{unit}"
    s = ns / 1e9
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    out = ""
    if h:
        out += f"{int(h)}h"
    if h or m:
        out += f"{int(m)}m"
    return out + f"{sec:g}s"


def _go_healthcheck(hc: dict[str, Any]) -> str:
    """dockerd's `%v` of a *HealthConfig in the HEALTHCHECK history line."""
    test = "[" + " ".join(json.dumps(t) for t in hc.get("Test") or []) + "]"
    durs = " ".join(
        f'"{go_duration_string(int(hc.get(k) or 0))}"'
        for k in ("Interval", "Timeout", "StartPeriod")
    )
    retries = int(hc.get("Retries") or 0)
    rune = f"'\\x{retries:02x}'" if retries < 0x20 else repr(chr(retries))
    return f"&{{{test} {durs} {rune}}}"


def go_quote(argv: list[str]) -> str:
    """Go's `%q` of a string slice, as dockerd prints CMD/ENTRYPOINT in history."""
    return "[" + " ".join(json.dumps(a) for a in argv) + "]"
