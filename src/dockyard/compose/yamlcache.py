"""Parsed compose files kept by content, so an unchanged file skips PyYAML.

Importing PyYAML compiles its regular expressions (reader, resolver, constructor):
about a third of the CPU of a no-op `up`, spent again by every command on a file
that has not changed. Like Python's `__pycache__`, a parsed document is kept in
`$XDG_CACHE_HOME/dockyard/compose` (default `~/.cache/...`), named by the sha256 of
the text itself (and `FORMAT`), so an edited file can never be answered with a
stale parse. `marshal` (built in, nothing to import) stores it; documents marshal
cannot hold (`!reset`/`!override` markers, timestamps) are simply not kept. Any
error reading or writing the cache is ignored: it only ever saves time. Every edit
makes a new entry, so past KEEP entries the older half goes (on a miss only).
"""

from __future__ import annotations

import hashlib
import marshal
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# Bump when what parsing returns for the same text changes (yamlfile's constructors).
FORMAT = "1"
MISSING = object()
KEEP = 256


def directory(environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    if env.get("DOCKYARD_COMPOSE_NO_CACHE"):
        return None
    base = env.get("XDG_CACHE_HOME") or (
        os.path.join(env["HOME"], ".cache") if env.get("HOME") else None
    )
    return os.path.join(base, "dockyard", "compose") if base else None


def _path(text: str) -> str | None:
    where = directory()
    if where is None:
        return None
    digest = hashlib.sha256(f"{FORMAT}\0{text}".encode()).hexdigest()
    return os.path.join(where, digest + ".marshal")


def get(text: str) -> Any:
    """The document parsed from `text` before, or MISSING."""
    path = _path(text)
    if path is None:
        return MISSING
    try:
        with open(path, "rb") as f:
            return marshal.load(f)
    except (OSError, EOFError, ValueError, TypeError):
        return MISSING


def put(text: str, document: Any) -> None:
    path = _path(text)
    if path is None:
        return
    try:
        data = marshal.dumps(document)
    except ValueError:  # something marshal cannot hold: not kept
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)  # whole or absent, for a reader in parallel
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return
    prune(os.path.dirname(path))


def prune(where: str, keep: int = KEEP) -> None:
    """Past `keep` entries, remove the older half (by when they were written)."""
    try:
        entries = [e for e in os.scandir(where) if e.name.endswith(".marshal")]
        if len(entries) <= keep:
            return
        entries.sort(key=lambda e: e.stat().st_mtime_ns)
        for e in entries[: len(entries) - keep // 2]:
            os.unlink(e.path)
    except OSError:
        pass
