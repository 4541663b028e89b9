"""`docker import/commit --change` lines: the Dockerfile instructions that only
edit an image's config (CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL,
ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR), parsed and applied, pure.

JSON form (`CMD ["a", "b"]`) vs shell form (`CMD a b` -> /bin/sh -c "a b");
ENV/LABEL/EXPOSE/USER/WORKDIR/VOLUME/STOPSIGNAL words are expanded against
the config's Env as Docker's builder does ($VAR, ${VAR}, ${VAR:-x}, ${VAR:+x}).
"""

from __future__ import annotations

import copy
import json
import posixpath
import re
from typing import Any

from dockyard.api.errors import InvalidParameter

COMMANDS = (
    "CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL",
    "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
)  # fmt: skip
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}


class InvalidChange(InvalidParameter):
    pass


def _env_map(config: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for kv in config.get("Env") or []:
        k, _, v = kv.partition("=")
        out[k] = v
    return out


def split_words(text: str, env: dict[str, str] | None, keep_quotes: bool = False) -> list[str]:
    """Split on unquoted whitespace, removing quotes and backslashes and expanding
    variables (if `env` is given; not inside single quotes)."""
    words: list[str] = []
    cur: list[str] = []
    in_word = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            if in_word:
                words.append("".join(cur))
                cur, in_word = [], False
            i += 1
            continue
        in_word = True
        if c == "\\" and i + 1 < n:
            cur.append(text[i + 1])
            i += 2
        elif c == "'":
            j = text.find("'", i + 1)
            if j < 0:
                raise InvalidChange(
                    f"unexpected end of statement while looking for matching single-quote: {text}"
                )
            cur.append(text[i + 1 : j])
            i = j + 1
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n and text[i + 1] in '"\\$':
                    cur.append(text[i + 1])
                    i += 2
                elif text[i] == "$" and env is not None:
                    val, i = _expand(text, i, env)
                    cur.append(val)
                else:
                    cur.append(text[i])
                    i += 1
            if i >= n:
                raise InvalidChange(
                    f"unexpected end of statement while looking for matching double-quote: {text}"
                )
            i += 1
        elif c == "$" and env is not None:
            val, i = _expand(text, i, env)
            cur.append(val)
        else:
            cur.append(c)
            i += 1
    if in_word:
        words.append("".join(cur))
    return words


def _expand(text: str, i: int, env: dict[str, str]) -> tuple[str, int]:
    """Expand the variable at text[i] == '$'; returns (value, index after it)."""
    n = len(text)
    if i + 1 < n and text[i + 1] == "{":
        j = text.find("}", i + 2)
        if j < 0:
            raise InvalidChange(f"missing '}}' in {text}")
        body = text[i + 2 : j]
        for op in (":-", ":+"):
            if op in body:
                name, _, word = body.partition(op)
                val = env.get(name, "")
                if op == ":-":
                    return (val if val else word), j + 1
                return (word if val else ""), j + 1
        return env.get(body, ""), j + 1
    m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[i + 1 :])
    if not m:
        return "$", i + 1
    return env.get(m.group(0), ""), i + 1 + m.end()


def _cmd_form(rest: str) -> tuple[list[str], bool]:
    """(argv, is_json) of a CMD/ENTRYPOINT/RUN argument."""
    s = rest.strip()
    if s.startswith("["):
        try:
            v = json.loads(s)
        except json.JSONDecodeError:
            v = None
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return v, True
    return ["/bin/sh", "-c", s], False


def _key_values(cmd: str, rest: str, env: dict[str, str] | None) -> list[tuple[str, str]]:
    words = split_words(rest, env)
    if not words:
        raise InvalidChange(f"{cmd} requires at least one argument")
    if "=" not in words[0]:
        # legacy `ENV key value with spaces` form
        if cmd == "LABEL":
            raise InvalidChange(f"LABEL requires key=value form: {rest}")
        key, _, value = rest.strip().partition(" ")
        value = " ".join(split_words(value, env, keep_quotes=True)) if value.strip() else ""
        if not value:
            raise InvalidChange(
                f"ENV names can not be blank: {rest}" if not key else "ENV must have two arguments"
            )
        return [(key, value)]
    out = []
    for w in words:
        k, sep, v = w.partition("=")
        if not sep or not k:
            raise InvalidChange(
                f"Syntax error - can't find = in {w!r}. Must be of the form: name=value"
            )
        out.append((k, v))
    return out


def _duration_ns(s: str) -> int:
    total, pos = 0, 0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += int(float(m.group(1)) * _UNIT_NS[m.group(2)])
        pos = m.end()
    if pos != len(s) or not s:
        raise InvalidChange(f"time: invalid duration {s!r}")
    return total


def _healthcheck(rest: str) -> dict[str, Any]:
    words = rest.split()
    opts: dict[str, Any] = {}
    while words and words[0].startswith("--"):
        flag, _, val = words.pop(0)[2:].partition("=")
        key = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod",
               "start-interval": "StartInterval", "retries": "Retries"}.get(flag)  # fmt: skip
        if key is None:
            raise InvalidChange(f"unknown flag: --{flag}")
        opts[key] = int(val) if key == "Retries" else _duration_ns(val)
    if not words:
        raise InvalidChange("HEALTHCHECK requires an argument")
    kind = words[0].upper()
    if kind == "NONE":
        if len(words) > 1 or opts:
            raise InvalidChange("HEALTHCHECK NONE takes no arguments")
        return {"Test": ["NONE"]}
    if kind != "CMD":
        raise InvalidChange(f"Unknown type {kind!r} in HEALTHCHECK (try CMD)")
    argstr = rest.strip()
    argstr = argstr[argstr.upper().index("CMD") + 3 :]
    argv, is_json = _cmd_form(argstr)
    test = ["CMD", *argv] if is_json else ["CMD-SHELL", argstr.strip()]
    return {"Test": test, **opts}


def apply_change(config: dict[str, Any], line: str, cmd_set: bool = False) -> str:
    """Apply one change line to a container config (Docker's `Config` dict) in
    place; returns the instruction. `cmd_set`: a CMD came earlier in the same
    set of changes (then ENTRYPOINT keeps it, as in a Dockerfile)."""
    line = line.strip()
    if not line:
        return ""
    cmd, _, rest = line.partition(" ")
    cmd = cmd.upper()
    rest = rest.strip()
    if cmd not in COMMANDS:
        raise InvalidChange(f"{cmd.lower()} is not a valid change command")
    env = _env_map(config)
    if cmd in ("CMD", "ENTRYPOINT"):
        argv, _ = _cmd_form(rest)
        if cmd == "ENTRYPOINT" and not rest:
            argv = []
        config["Cmd" if cmd == "CMD" else "Entrypoint"] = argv
        if cmd == "ENTRYPOINT" and not cmd_set:
            config["Cmd"] = None  # an inherited CMD does not survive a new ENTRYPOINT
    elif cmd == "ENV":
        cur = list(config.get("Env") or [])
        for k, v in _key_values(cmd, rest, env):
            cur = [e for e in cur if e.partition("=")[0] != k] + [f"{k}={v}"]
            env[k] = v
        config["Env"] = cur
    elif cmd == "LABEL":
        labels = dict(config.get("Labels") or {})
        labels.update(_key_values(cmd, rest, env))
        config["Labels"] = labels
    elif cmd == "EXPOSE":
        ports = dict(config.get("ExposedPorts") or {})
        for w in split_words(rest, env):
            for p in _expand_port(w):
                ports[p] = {}
        config["ExposedPorts"] = ports
    elif cmd == "USER":
        words = split_words(rest, env)
        if len(words) != 1:
            raise InvalidChange("USER requires exactly one argument")
        config["User"] = words[0]
    elif cmd == "WORKDIR":
        words = split_words(rest, env)
        if len(words) != 1:
            raise InvalidChange("WORKDIR requires exactly one argument")
        config["WorkingDir"] = posixpath.normpath(
            posixpath.join("/", config.get("WorkingDir") or "/", words[0])
        )
    elif cmd == "VOLUME":
        vols, is_json = _cmd_form(rest)
        if not is_json:
            vols = split_words(rest, env)
        if not vols or any(not v.strip() for v in vols):
            raise InvalidChange("VOLUME specified can not be an empty string")
        volumes = dict(config.get("Volumes") or {})
        for v in vols:
            volumes[v] = {}
        config["Volumes"] = volumes
    elif cmd == "STOPSIGNAL":
        words = split_words(rest, env)
        if len(words) != 1:
            raise InvalidChange("STOPSIGNAL requires exactly one argument")
        config["StopSignal"] = words[0]
    elif cmd == "ONBUILD":
        trigger = rest.split(None, 1)[0].upper() if rest else ""
        if trigger in ("ONBUILD", "FROM", "MAINTAINER") or not trigger:
            raise InvalidChange(
                f"{trigger} isn't allowed as an ONBUILD trigger"
                if trigger
                else "ONBUILD requires an argument"
            )
        config["OnBuild"] = [*(config.get("OnBuild") or []), rest]
    elif cmd == "HEALTHCHECK":
        config["Healthcheck"] = _healthcheck(rest)
    return cmd


def _expand_port(w: str) -> list[str]:
    port, _, proto = w.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidChange(f"invalid proto: {proto}")
    lo, _, hi = port.partition("-")
    try:
        a = int(lo)
        b = int(hi) if hi else a
    except ValueError:
        raise InvalidChange(f"invalid containerPort: {port}") from None
    if not (0 < a <= 65535 and 0 < b <= 65535) or b < a:
        raise InvalidChange(f"invalid range specified for containerPort: {port}")
    return [f"{p}/{proto}" for p in range(a, b + 1)]


def apply_changes(config: dict[str, Any] | None, lines: list[str]) -> dict[str, Any]:
    """A copy of `config` with every change line applied in order."""
    out = copy.deepcopy(config or {})
    cmd_set = False
    for line in lines:
        for sub in line.split("\n"):
            cmd_set = apply_change(out, sub, cmd_set) == "CMD" or cmd_set
    return out
