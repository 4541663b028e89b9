"""The subset of Go's text/template that docker's `--format` flags use (pure).

Supported: text, `{{.}}`, field chains `{{.State.Status}}`, method fields
with arguments (`{{.Label "k"}}`), functions `json upper lower title join
split truncate pad index len print println`, pipes (`{{.Names | upper}}`) and
`{{-`/`-}}` trimming. Not supported (a TemplateError): range, if, with,
variables. Values print like Go's fmt: `[a b]`, `map[k:v]`, `true`; a null
JSON slice prints `[]`, a null map `map[]` (guessed from the field's name,
since raw JSON has no types). Docker also replaces literal `\\t`/`\\n`.
"""

from __future__ import annotations

import json
import re

from dockyard.cli.format import tabwrite

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.cli.main import Cli

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(r'\s*(?:(\|)|("(?:[^"\\]|\\.)*")|(`[^`]*`)|(\.[\w.]*)|(-?\d+)|(\w+))')
# Fields that are maps in Docker's types: a JSON null there prints as `map[]`.
_MAP_FIELDS = frozenset(
    "Labels Volumes ExposedPorts Sysctls StorageOpt Options DriverOpts Ports Networks "
    "PortBindings Data Annotations Config Status".split()
)


class TemplateError(Exception):
    pass


class Field:
    __slots__ = ("path", "pos")

    def __init__(self, path: list[str], pos: int) -> None:
        self.path = path
        self.pos = pos


class Template:
    """A parsed template; `execute(data)` returns the text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._parts: list[str | tuple[list[list[Any]], int]] = []
        pos = 0
        for match in _ACTION.finditer(text):
            literal = text[pos : match.start()]
            if match.group(1):
                literal = literal.rstrip()
            if self._parts and isinstance(self._parts[-1], str) and self._parts[-1] == "\0trim":
                self._parts.pop()
                literal = literal.lstrip()
            self._parts.append(literal)
            self._parts.append((_parse_pipeline(match.group(2), match.start(2)), match.start(2)))
            if match.group(3):
                self._parts.append("\0trim")
            pos = match.end()
        tail = text[pos:]
        if self._parts and self._parts[-1] == "\0trim":
            self._parts.pop()
            tail = tail.lstrip()
        self._parts.append(tail)

    def execute(self, data: Any) -> str:
        out = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(to_text(self._pipeline(part[0], data)))
        return "".join(out)

    def _pipeline(self, commands: list[list[Any]], data: Any) -> Any:
        result: Any = _NOTHING
        for command in commands:
            result = self._command(command, data, result)
        return result

    def _command(self, command: list[Any], data: Any, piped: Any) -> Any:
        head, args = command[0], command[1:]
        values = [self._operand(a, data) for a in args]
        if piped is not _NOTHING:
            values.append(piped)
        if isinstance(head, str) and head in FUNCTIONS:
            try:
                return FUNCTIONS[head](*values)
            except TypeError as e:
                raise TemplateError(f"template: wrong arguments for {head}: {e}") from None
        value = self._operand(head, data, call_args=values)
        return value

    def _operand(self, operand: Any, data: Any, call_args: list[Any] | None = None) -> Any:
        if isinstance(operand, Field):
            value = data
            for i, name in enumerate(operand.path):
                value = _lookup(value, name, operand, self.text)
                if callable(value):
                    last = i == len(operand.path) - 1
                    value = value(*(call_args or [])) if last else value()
            return value
        if isinstance(operand, str) and operand in FUNCTIONS:
            return FUNCTIONS[operand]()
        if isinstance(operand, tuple):  # a literal
            return operand[0]
        raise TemplateError(f'template: function "{operand}" not defined')


_NOTHING = object()


def _lookup(value: Any, name: str, field: Field, text: str) -> Any:
    where = f'template: :1:{field.pos}: executing "" at <.{".".join(field.path)}>'
    if isinstance(value, dict):
        if name not in value:
            raise TemplateError(f'{where}: map has no entry for key "{name}"')
        found = value[name]
        if found is None:
            return _NullOf(name)
        return found
    getter = getattr(value, "template_field", None)
    if getter is not None:
        try:
            return getter(name)
        except KeyError:
            pass
    kind = getattr(value, "go_type", None) or type(value).__name__  # docker's Go type name
    if isinstance(value, _NullOf):
        kind = "interface {}"
    raise TemplateError(f"{where}: can't evaluate field {name} in type {kind}")


class _NullOf:
    """A JSON null found under a key: prints as Go would print that field's zero value."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _parse_pipeline(source: str, offset: int) -> list[list[Any]]:
    commands: list[list[Any]] = [[]]
    pos = 0
    source_stripped = source.rstrip()
    while pos < len(source_stripped):
        match = _TOKEN.match(source_stripped, pos)
        if not match or match.end() == pos:
            raise TemplateError(f"template: :1: unexpected {source_stripped[pos:]!r} in command")
        pipe, dquoted, bquoted, field, number, ident = match.groups()
        if pipe:
            commands.append([])
        elif dquoted is not None:
            commands[-1].append((json.loads(dquoted),))
        elif bquoted is not None:
            commands[-1].append((bquoted[1:-1],))
        elif field is not None:
            path = [p for p in field[1:].split(".") if p] if field != "." else []
            commands[-1].append(Field(path, offset + match.start(4)))
        elif number is not None:
            commands[-1].append((int(number),))
        elif ident in ("range", "if", "with", "else", "end", "define", "template", "block"):
            raise TemplateError(f"template: {{{{{ident}}}}} is not supported by dockyard yet")
        else:
            commands[-1].append(ident)
        pos = match.end()
    if not commands[0] and len(commands) == 1:
        raise TemplateError("template: :1: missing value for command")
    return commands


def to_text(value: Any) -> str:
    """Go's fmt.Sprint for values decoded from JSON."""
    if value is _NOTHING:
        return ""
    if isinstance(value, _NullOf):
        return "map[]" if value.name in _MAP_FIELDS else "[]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}" if value != int(value) or abs(value) >= 1e21 else str(int(value))
    if isinstance(value, list | tuple):
        return "[" + " ".join(to_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{to_text(value[k])}" for k in sorted(value)) + "]"
    if hasattr(value, "template_json"):
        return str(value)
    return str(value)


def _json(value: Any = None) -> str:
    if isinstance(value, _NullOf):
        value = None
    if hasattr(value, "template_json"):
        value = value.template_json()
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _join(items: Any, sep: str) -> str:
    return sep.join(to_text(i) for i in items) if not isinstance(items, _NullOf) else ""


def _truncate(text: Any, length: int) -> str:
    s = to_text(text)
    return s[:length]


def _pad(text: Any, before: int, after: int) -> str:
    return " " * before + to_text(text) + " " * after


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, _NullOf) or value is None:
            return _NOTHING
        try:
            value = value[key]
        except (KeyError, IndexError):
            return _NOTHING
        if value is None:
            value = _NullOf(str(key))
    return value


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "json": _json,
    "upper": lambda s: to_text(s).upper(),
    "lower": lambda s: to_text(s).lower(),
    "title": lambda s: to_text(s).title(),
    "join": _join,
    "split": lambda s, sep: to_text(s).split(sep),
    "truncate": _truncate,
    "pad": _pad,
    "index": _index,
    "len": lambda v: 0 if isinstance(v, _NullOf) else len(v),
    "print": lambda *a: "".join(to_text(v) for v in a),
    "println": lambda *a: " ".join(to_text(v) for v in a) + "\n",
}


def prepare(format_text: str) -> tuple[bool, str]:
    """docker's preFormat: (is a table, the template text with `\\t`/`\\n` unescaped)."""
    is_table = format_text.startswith("table")
    if is_table:
        format_text = format_text[len("table") :]
    format_text = format_text.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    return is_table, format_text


def render(format_text: str, rows: list[Any], header: Any = None) -> str:
    """Rows through a `--format`; `table` formats get the header row and tabwriter."""
    is_table, text = prepare(format_text)
    template = Template(text)
    lines = [template.execute(row) for row in rows]
    if not is_table:
        return "".join(line + "\n" for line in lines)
    if header is not None:
        lines.insert(0, template.execute(header))
    if not lines:
        return ""
    return tabwrite("\n".join(lines)) + "\n"


class Header:
    """A table's header row (docker's SubHeaderContext): each column's title by name."""

    __slots__ = ("titles",)

    def __init__(self, titles: dict[str, str]) -> None:
        self.titles = titles

    def template_field(self, name: str) -> str:
        return self.titles[name]


def columns_json(row: Any, titles: dict[str, str]) -> dict[str, Any]:
    """A row's `{{json .}}`: every column by name, sorted (docker's context MarshalJSON)."""
    return {k: row.template_field(k) for k in sorted(titles)}


def print_rows(cli: Cli, format_text: str, rows: list[Any], header: Any = None) -> int:
    """`render` printed; 1 with docker's message when the template does not parse."""
    try:
        cli.out(render(format_text, rows, header))
    except TemplateError as e:
        cli.err(f"template parsing error: {e}\n")
        return 1
    return 0


def print_inspected(cli: Cli, format_text: str | None, found: list[Any]) -> int:
    """`render_inspected` printed; 1 with docker's message when the template does not parse."""
    try:
        cli.out(render_inspected(format_text, found))
    except TemplateError as e:
        cli.err(f"template parsing error: {e}\n")
        return 1
    return 0


def render_inspected(format_text: str | None, found: list[Any]) -> str:
    """`inspect` output: each object through `--format`, else the list as indented JSON
    (`[]` when empty), as docker prints it. Raises TemplateError."""
    if format_text:
        template = Template(prepare(format_text)[1])
        return "".join(template.execute(item) + "\n" for item in found)
    return (json.dumps(found, indent=4, ensure_ascii=False) if found else "[]") + "\n"
