"""Pure formatting, byte-for-byte like the docker CLI: go-units durations and
sizes, Go's strconv.Quote, text/tabwriter tables, ids, image references and
the non-terminal rendering of JSON progress messages. No I/O here.
"""

from __future__ import annotations

import time

from dockyard.humanize import human_duration
from dockyard.proto import units

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


def since(timestamp: float, now: float | None = None) -> str:
    """`2 seconds ago` for a unix time."""
    now = time.time() if now is None else now
    return human_duration(max(0.0, now - timestamp)) + " ago"


def human_size(size: float, precision: int = 3) -> str:
    """The docker CLI's sizes: go-units HumanSizeWithPrecision with 3 digits (`4.26MB`)."""
    return units.human_size(size, precision)


def go_quote(text: str) -> str:
    """Go's strconv.Quote: printable Unicode stays, the rest is escaped."""
    out = ['"']
    escapes = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f"}
    escapes.update({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"})
    for ch in text:
        if ch in escapes:
            out.append(escapes[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def ellipsis(text: str, max_width: int) -> str:
    """docker's formatter.Ellipsis (by characters; wide runes are rare in commands)."""
    if max_width <= 0:
        return ""
    if len(text) <= max_width:
        return text
    if max_width == 1:
        return text[:1]
    return text[: max_width - 1] + "…"


def short_id(identifier: str) -> str:
    """The 12-hex short form of a container or image id (`sha256:` dropped)."""
    if identifier.startswith("sha256:"):
        identifier = identifier[len("sha256:") :]
    return identifier[:12]


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """Go's text/tabwriter as docker configures it (10, 1, 3, ' ', 0).

    Tab-terminated cells are padded to their column's width; a line's last cell
    (not followed by a tab) is left as is. Columns are aligned over runs of
    consecutive lines that have that column, as tabwriter does.
    """
    lines = [line.split("\t") for line in text.split("\n")]
    widths: list[list[int]] = [[0] * (len(cells) - 1) for cells in lines]
    _align(lines, widths, 0, 0, len(lines), minwidth, padding)
    out = []
    for cells, cell_widths in zip(lines, widths, strict=True):
        parts = [cell.ljust(width) for cell, width in zip(cells, cell_widths, strict=False)]
        parts.append(cells[-1])
        out.append("".join(parts))
    return "\n".join(out)


def _align(
    lines: list[list[str]],
    widths: list[list[int]],
    column: int,
    start: int,
    end: int,
    minwidth: int,
    padding: int,
) -> None:
    row = start
    while row < end:
        if len(lines[row]) - 1 <= column:
            row += 1
            continue
        block_end = row
        while block_end < end and len(lines[block_end]) - 1 > column:
            block_end += 1
        width = max([minwidth] + [len(lines[r][column]) + padding for r in range(row, block_end)])
        for r in range(row, block_end):
            widths[r][column] = width
        _align(lines, widths, column + 1, row, block_end, minwidth, padding)
        row = block_end


def split_reference(reference: str) -> tuple[str, str]:
    """`repo[:tag]` -> (repo, tag); `localhost:5000/x` has no tag; digests stay in repo."""
    if "@" in reference:
        return reference, ""
    name, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        return reference, ""
    return name, tag


def with_default_tag(reference: str) -> str:
    """docker's TagNameOnly: `busybox` -> `busybox:latest`."""
    repo, tag = split_reference(reference)
    if tag or "@" in repo:
        return reference
    return f"{reference}:latest"


def json_message_line(message: dict[str, Any]) -> str | None:
    """A progress message as docker prints it to a non-terminal (None: print nothing).

    Messages carrying a progress bar are skipped off a terminal, like jsonmessage.Display.
    """
    progress = message.get("progressDetail") or {}
    if progress and (progress.get("current") or progress.get("total")):
        return None
    if "aux" in message and not message.get("status") and not message.get("stream"):
        return None
    prefix = ""
    if message.get("id"):
        prefix += f"{message['id']}: "
    if message.get("from"):
        prefix += f"(from {message['from']}) "
    if message.get("progress"):
        return f"{prefix}{message.get('status', '')} {message['progress']}\n"
    if message.get("stream"):
        return prefix + message["stream"]
    return f"{prefix}{message.get('status', '')}\n"


def display_ports(ports: Iterable[dict[str, Any]]) -> str:
    """The PORTS column: `0.0.0.0:8080->80/tcp, 443/tcp` (no range folding yet)."""
    items = []
    for port in sorted(
        ports, key=lambda p: (p.get("PublicPort", 0), p.get("PrivatePort", 0), p.get("Type", ""))
    ):
        private = f"{port.get('PrivatePort')}/{port.get('Type', 'tcp')}"
        if port.get("PublicPort"):
            ip = port.get("IP", "")
            host = f"[{ip}]" if ":" in ip else ip
            items.append(f"{host}:{port['PublicPort']}->{private}")
        else:
            items.append(private)
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return ", ".join(seen)
