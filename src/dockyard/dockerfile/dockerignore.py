""".dockerignore: Docker's pattern semantics (moby/patternmatcher), pure.

Patterns are cleaned (`filepath.Clean`, leading `/` dropped); `*` and `?`
never cross `/`, `[...]` classes and `\\` escapes as in Go's filepath.Match,
`**` matches any number of directories; `!` re-includes. The last matching
pattern wins, and a pattern matching a parent directory matches everything
under it. Comments (`#`) and blank lines are skipped.
"""

from __future__ import annotations

import posixpath
import re


class Pattern:
    """One cleaned pattern (a plain class: `dataclasses` costs `dockyard build` ~10 ms of imports)."""

    __slots__ = ("text", "exclusion", "regex")

    def __init__(self, text: str, exclusion: bool, regex: re.Pattern[str]) -> None:
        self.text = text
        self.exclusion = exclusion
        self.regex = regex


def read_patterns(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        out.append(line)
    return out


def _clean(p: str) -> str:
    p = posixpath.normpath(p)
    p = p.lstrip("/")
    return "." if p in ("", ".") else p


def _to_regex(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 1
                while i + 1 < n and pattern[i + 1] == "*":
                    i += 1
                if i + 1 < n and pattern[i + 1] == "/":
                    out.append("(.*/)?")  # `**/` : zero or more directories
                    i += 1
                else:
                    out.append(".*")
            else:
                out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            cls = ["["]
            if j < n and pattern[j] == "^":
                cls.append("^")
                j += 1
            while j < n and pattern[j] != "]":
                if pattern[j] == "\\" and j + 1 < n:
                    cls.append(re.escape(pattern[j + 1]))
                    j += 2
                    continue
                cls.append(pattern[j] if pattern[j] == "-" else re.escape(pattern[j]))
                j += 1
            if j >= n:
                raise ValueError(f"syntax error in pattern: {pattern}")
            cls.append("]")
            out.append("".join(cls))
            i = j
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 1
        else:
            out.append(re.escape(c))
        i += 1
    out.append("$")
    return re.compile("".join(out), re.DOTALL)


class Matcher:
    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[Pattern] = []
        for p in patterns:
            exclusion = p.startswith("!")
            if exclusion:
                p = p[1:].strip()
            p = _clean(p)
            self.patterns.append(Pattern(p, exclusion, _to_regex(p)))

    def excluded(self, path: str) -> bool:
        """Whether `path` (relative to the context, `/`-separated) is ignored."""
        path = _clean(path)
        parents = []
        parts = path.split("/")
        for k in range(1, len(parts)):
            parents.append("/".join(parts[:k]))
        matched = False
        for p in self.patterns:
            if p.exclusion != matched:
                continue  # only a pattern that could flip the result matters
            hit = bool(p.regex.match(path)) or any(p.regex.match(d) for d in parents)
            if hit:
                matched = not p.exclusion
        return matched

    def may_reinclude_under(self, dir_path: str) -> bool:
        """Whether some `!` pattern could match below an excluded dir (then walk it)."""
        prefix = _clean(dir_path) + "/"
        return any(
            p.exclusion and (p.text.startswith(prefix) or "*" in p.text) for p in self.patterns
        )
