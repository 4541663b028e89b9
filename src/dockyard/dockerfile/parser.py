"""The Dockerfile parser (moby/buildkit `frontend/dockerfile/parser`), pure:
text -> directives + a list of `Instruction`s. No variable expansion happens
here (that depends on build args and the stage's ENV: see `expand.py`).

What it follows from Docker:
- parser directives (`# syntax=`, `# escape=`, `# check=`) only at the top,
  before any comment, blank line or instruction; `escape` is `\\` or `` ` ``;
- `#` comments at line starts (also between continuation lines), blank
  continuation lines skipped, `escape` + optional blanks at a line end joins
  the next line verbatim (its leading whitespace kept);
- leading `--flag[=value]` words on any instruction, checked per instruction;
- per instruction argument shapes: JSON (exec) form when the rest is a JSON
  array of strings, else shell form (Docker's fallback, also for bad JSON);
  `KEY=VALUE` pairs (quotes kept for the expander) or the legacy `ENV K V`;
- heredocs on RUN/COPY/ADD (`<<EOF`, `<<-EOF` strips leading tabs,
  `<<"EOF"`/`<<'EOF'` mark the body as not to be expanded), several per line;
- errors as `dockerfile parse error on line N: ...`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from dockyard.api.errors import InvalidParameter

INSTRUCTIONS = (
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
    "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
    "WORKDIR",
)  # fmt: skip

ALLOWED_FLAGS: dict[str, tuple[str, ...]] = {
    "FROM": ("platform",),
    "COPY": ("from", "chown", "chmod", "link", "parents", "exclude"),
    "ADD": ("chown", "chmod", "link", "keep-git-dir", "checksum", "exclude"),
    "HEALTHCHECK": ("interval", "timeout", "start-period", "start-interval", "retries"),
    "RUN": ("mount", "network", "security"),
}
_DIRECTIVE = re.compile(r"^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$")
_KNOWN_DIRECTIVES = ("syntax", "escape", "check")
_HEREDOC = re.compile(r"<<(-?)[ \t]*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_FLAG = re.compile(r"--([A-Za-z][A-Za-z0-9-]*)(?:=(\"[^\"]*\"|'[^']*'|\S*))?(?:\s+|$)")


class DockerfileError(InvalidParameter):
    """A malformed Dockerfile; the message names the line like Docker's."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"dockerfile parse error on line {line}: {message}" if line else message)


@dataclass(frozen=True)
class Heredoc:
    name: str
    content: str
    expand: bool  # False when the delimiter was quoted
    chomp: bool = False  # `<<-`: leading tabs were stripped


@dataclass
class Instruction:
    cmd: str  # upper case: "RUN"
    original: str  # the joined source line, as Docker prints it in "Step i/n : ..."
    args: list[str]  # per-instruction shape (see module docstring)
    flags: dict[str, str] = field(default_factory=dict)
    json: bool = False  # exec form
    line: int = 0  # first line (1-based)
    end_line: int = 0
    heredocs: list[Heredoc] = field(default_factory=list)
    sub: Instruction | None = None  # ONBUILD's trigger
    rest: str = ""  # the text after the flags, trimmed


@dataclass
class Dockerfile:
    instructions: list[Instruction]
    directives: dict[str, str] = field(default_factory=dict)
    escape: str = "\\"
    warnings: list[str] = field(default_factory=list)


def _split_words(rest: str, escape: str) -> list[str]:
    """Whitespace-split keeping quotes and escapes (buildkit's parseWords)."""
    words: list[str] = []
    cur: list[str] = []
    quote = ""
    esc = False
    for ch in rest:
        if esc:
            cur.append(ch)
            esc = False
            continue
        if ch == escape:
            cur.append(ch)
            esc = True
            continue
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
            cur.append(ch)
            continue
        if ch.isspace():
            if cur:
                words.append("".join(cur))
                cur = []
            continue
        cur.append(ch)
    if cur:
        words.append("".join(cur))
    return words


def _maybe_json(rest: str) -> tuple[list[str], bool]:
    s = rest.strip()
    if s.startswith("["):
        try:
            v = json.loads(s)
        except json.JSONDecodeError:
            v = None
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return v, True
    return ([s] if s else []), False


def _name_vals(cmd: str, rest: str, escape: str, line: int) -> list[str]:
    words = _split_words(rest, escape)
    if not words:
        raise DockerfileError(f"{cmd} requires at least one argument", line)
    if "=" not in words[0]:
        # legacy `ENV key value with spaces`
        parts = re.split(r"[ \t]+", rest.strip(), maxsplit=1)
        if len(parts) < 2 or not parts[1].strip():
            raise DockerfileError(f"{cmd} must have two arguments", line)
        return [parts[0], parts[1]]
    out: list[str] = []
    for w in words:
        k, sep, v = w.partition("=")
        if not sep:
            raise DockerfileError(
                f'Syntax error - can\'t find = in "{w}". Must be of the form: name=value', line
            )
        if not k:
            raise DockerfileError(f"{cmd} names can not be blank", line)
        out += [k, v]
    return out


def _extract_flags(cmd: str, rest: str, line: int) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    s = rest.lstrip()
    while s.startswith("--"):
        if s.startswith("-- ") or s == "--":
            s = s[2:].lstrip()
            break
        m = _FLAG.match(s)
        if not m:
            break
        name, value = m.group(1), m.group(2)
        if value is None:
            value = "true"
        elif len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if name not in ALLOWED_FLAGS.get(cmd, ()):
            raise DockerfileError(f"unknown flag: {name}", line)
        if name in flags and name != "exclude":
            raise DockerfileError(f"Duplicate flag specified: {name}", line)
        flags[name] = value
        s = s[m.end() :]
    return flags, s.strip()


def parse_line(text: str, line: int, escape: str = "\\") -> Instruction:
    """One joined instruction line (no heredoc bodies) -> Instruction."""
    stripped = text.strip()
    parts = re.split(r"\s+", stripped, maxsplit=1)
    word = parts[0]
    cmd = word.upper()
    if cmd not in INSTRUCTIONS:
        raise DockerfileError(f"unknown instruction: {word}", line)
    rest = parts[1] if len(parts) > 1 else ""
    flags, rest = _extract_flags(cmd, rest, line)
    ins = Instruction(cmd, stripped, [], flags, line=line, end_line=line, rest=rest)
    if cmd in ("RUN", "CMD", "ENTRYPOINT", "SHELL"):
        ins.args, ins.json = _maybe_json(rest)
        if cmd == "SHELL" and not ins.json:
            raise DockerfileError("SHELL requires the arguments to be in JSON form", line)
    elif cmd in ("ADD", "COPY", "VOLUME"):
        args, ins.json = _maybe_json(rest)
        ins.args = args if ins.json else rest.split()
    elif cmd in ("FROM", "EXPOSE"):
        ins.args = rest.split()
    elif cmd in ("MAINTAINER", "STOPSIGNAL", "USER", "WORKDIR"):
        ins.args = [rest] if rest else []
    elif cmd in ("ENV", "LABEL"):
        ins.args = _name_vals(cmd, rest, escape, line)
    elif cmd == "ARG":
        ins.args = _split_words(rest, escape)
    elif cmd == "HEALTHCHECK":
        words = rest.split(None, 1)
        if not words:
            raise DockerfileError("HEALTHCHECK requires an argument", line)
        kind = words[0].upper()
        if kind == "NONE":
            if len(words) > 1:
                raise DockerfileError("HEALTHCHECK NONE takes no arguments", line)
            ins.args = ["NONE"]
        elif kind == "CMD":
            cmd_args, ins.json = _maybe_json(words[1] if len(words) > 1 else "")
            if not cmd_args:
                raise DockerfileError("Missing command after HEALTHCHECK CMD", line)
            ins.args = ["CMD", *cmd_args]
        else:
            raise DockerfileError(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)', line)
    elif cmd == "ONBUILD":
        if not rest:
            raise DockerfileError("ONBUILD requires at least one argument", line)
        trigger = rest.split(None, 1)[0].upper()
        if trigger == "ONBUILD":
            raise DockerfileError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", line)
        if trigger in ("MAINTAINER", "FROM"):
            raise DockerfileError(f"{trigger} isn't allowed as an ONBUILD trigger", line)
        ins.sub = parse_line(rest, line, escape)
        ins.args = [rest]
    return ins


def _heredoc_markers(rest: str) -> list[tuple[str, bool, bool]]:
    """(name, expand, chomp) of each `<<NAME` in an instruction's text."""
    out = []
    for m in _HEREDOC.finditer(rest):
        out.append((m.group(3), not m.group(2), m.group(1) == "-"))
    return out


def parse(text: str) -> Dockerfile:
    """Parse a whole Dockerfile. Raises DockerfileError."""
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    df = Dockerfile([])
    i = 0
    # -- directives ------------------------------------------------------------
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        if not m:
            break
        key, value = m.group(1).lower(), m.group(2)
        if key in _KNOWN_DIRECTIVES:
            if key in df.directives:
                raise DockerfileError(f"only one {key} parser directive can be used", i + 1)
            df.directives[key] = value
        i += 1
    esc = df.directives.get("escape", "\\")
    if esc not in ("\\", "`"):
        raise DockerfileError(f"invalid escape token '{esc}' does not match ` or \\")
    df.escape = esc
    cont = re.compile(re.escape(esc) + r"[ \t]*$")
    # -- instructions ------------------------------------------------------------
    while i < len(lines):
        raw = lines[i].lstrip(" \t")
        start = i + 1
        i += 1
        if not raw or raw.startswith("#"):
            continue
        joined = raw
        ended = not cont.search(joined)
        if not ended:
            joined = cont.sub("", joined)
        empty_cont = False
        while not ended and i < len(lines):
            nxt = lines[i]
            i += 1
            if nxt.lstrip(" \t").startswith("#"):
                continue
            if not nxt.strip():
                empty_cont = True
                continue
            if cont.search(nxt):
                joined += cont.sub("", nxt)
            else:
                joined += nxt
                ended = True
        if empty_cont:
            df.warnings.append(f"[WARNING]: Empty continuation line found in: {joined.strip()}")
        ins = parse_line(joined, start, esc)
        if ins.cmd in ("RUN", "COPY", "ADD") and "<<" in ins.rest and not ins.json:
            for name, expand, chomp in _heredoc_markers(ins.rest):
                body: list[str] = []
                while True:
                    if i >= len(lines):
                        raise DockerfileError(f"unterminated heredoc {name}", start)
                    ln = lines[i]
                    i += 1
                    if chomp:
                        ln = ln.lstrip("\t")
                    if ln == name:
                        break
                    body.append(ln)
                content = "\n".join(body) + "\n" if body else ""
                ins.heredocs.append(Heredoc(name, content, expand, chomp))
        ins.end_line = i
        df.instructions.append(ins)
    return df
