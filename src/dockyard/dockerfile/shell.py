"""Docker's word lexer (moby/buildkit `shell.Lex`), pure: quote removal and
variable substitution in the instructions the builder expands.

Rules: single quotes are literal; in double quotes the escape char escapes
only `"`, `$` and itself (and a newline), and `$` expands; outside quotes the
escape char makes the next character literal. Substitutions: `$VAR`, `${VAR}`,
`${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`, `${VAR:?msg}`,
`${VAR?msg}`; the `word` is itself processed. An unset variable is empty.
"""

from __future__ import annotations

from collections.abc import Mapping

_NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_NAME = _NAME_START + "0123456789"


class ShellError(ValueError):
    pass


class _Lexer:
    def __init__(
        self, text: str, env: Mapping[str, str], escape: str, split: bool, quotes: bool = True
    ) -> None:
        self.quotes = quotes
        self.s = text
        self.i = 0
        self.env = env
        self.esc = escape
        self.split = split
        self.words: list[str] = []
        self.cur: list[str] = []
        self.in_word = False

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def next(self) -> str:
        c = self.peek()
        self.i += 1
        return c

    def flush(self) -> None:
        if self.in_word:
            self.words.append("".join(self.cur))
        self.cur = []
        self.in_word = False

    def run(self, stop: str = "") -> str:
        """Process until end (or, inside `${..:-word}`, an unquoted `stop`)."""
        while self.i < len(self.s):
            c = self.peek()
            if stop and c == stop:
                break
            if self.split and c in " \t\r\n":
                self.flush()
                self.i += 1
                continue
            self.in_word = True
            if not self.quotes and c != "$":
                self.cur.append(c)
                self.i += 1
            elif c == self.esc:
                self.i += 1
                if self.i < len(self.s):
                    self.cur.append(self.next())
                else:
                    self.cur.append(c)
            elif c == "'":
                self.i += 1
                j = self.s.find("'", self.i)
                if j < 0:
                    raise ShellError(
                        "unexpected end of statement while looking for matching single-quote"
                    )
                self.cur.append(self.s[self.i : j])
                self.i = j + 1
            elif c == '"':
                self.i += 1
                self.double_quoted()
            elif c == "$":
                self.cur.append(self.dollar())
            else:
                self.cur.append(c)
                self.i += 1
        return "".join(self.cur)

    def double_quoted(self) -> None:
        while True:
            if self.i >= len(self.s):
                raise ShellError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            c = self.peek()
            if c == '"':
                self.i += 1
                return
            if c == "$":
                self.cur.append(self.dollar())
            elif (
                c == self.esc
                and self.i + 1 < len(self.s)
                and self.s[self.i + 1] in ('"', "$", self.esc, "\n")
            ):
                self.cur.append(self.s[self.i + 1])
                self.i += 2
            else:
                self.cur.append(c)
                self.i += 1

    def dollar(self) -> str:
        self.i += 1  # the '$'
        c = self.peek()
        if c == "{":
            self.i += 1
            return self.braced()
        if c and c in _NAME_START:
            start = self.i
            while self.peek() and self.peek() in _NAME:
                self.i += 1
            return self.env.get(self.s[start : self.i], "")
        if c and c.isdigit():
            self.i += 1
            return ""
        return "$"

    def braced(self) -> str:
        start = self.i
        while self.peek() and self.peek() in _NAME:
            self.i += 1
        name = self.s[start : self.i]
        if not name:
            raise ShellError(f"bad substitution: ${{{self.s[start:].split('}')[0]}}}")
        c = self.peek()
        if c == "}":
            self.i += 1
            return self.env.get(name, "")
        colon = c == ":"
        if colon:
            self.i += 1
            c = self.peek()
        if c not in ("-", "+", "?"):
            raise ShellError(f"unsupported modifier ({c}) in substitution")
        self.i += 1
        sub = _Lexer(self.s, self.env, self.esc, False, self.quotes)
        sub.i = self.i
        word = sub.run(stop="}")
        if sub.peek() != "}":
            raise ShellError("syntax error: missing '}'")
        self.i = sub.i + 1
        is_set = name in self.env
        val = self.env.get(name, "")
        present = bool(val) if colon else is_set
        if c == "-":
            return val if present else word
        if c == "+":
            return word if present else ""
        if not present:
            raise ShellError(f"{name}: {word or 'is not allowed to be unset'}")
        return val


def process_word(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """One word: quotes removed, variables expanded, whitespace kept."""
    return _Lexer(word, env, escape, split=False).run()


def process_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Split on unquoted whitespace, then process each word."""
    lx = _Lexer(text, env, escape, split=True)
    lx.run()
    lx.flush()
    return lx.words


def expand_heredoc(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """A heredoc body with an unquoted delimiter: only `$` substitutions, quotes kept."""
    return _Lexer(text, env, escape, split=False, quotes=False).run()
