"""The syntax error Go's encoding/json reports for a malformed JSON document, in its
words ("invalid character '}' looking for beginning of object key string",
"unexpected EOF"). Only run on input the parser refused, to say why as dockerd
says it; a port of the checks of Go's scanner.go, iterative (Go allows nesting
to 10000 levels, deeper than Python's recursion)."""

from __future__ import annotations

MAX_DEPTH = 10000
_WS = b" \t\r\n"
_DIGITS = b"0123456789"
_GO_ESCAPES = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v", 92: "\\\\"}


class _Stop(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def _quote(c: int) -> str:
    """Go's quoteChar: the byte as a rune, strconv.Quote'd between single quotes."""
    if c == ord("'"):
        return "'\\''"
    if c == ord('"'):
        return "'\"'"
    if c in _GO_ESCAPES:
        return f"'{_GO_ESCAPES[c]}'"
    ch = chr(c)
    if ch.isprintable():
        return f"'{ch}'"
    return f"'\\x{c:02x}'" if c < 0x80 else f"'\\u{c:04x}'"


def _err(c: int, context: str) -> _Stop:
    return _Stop(f"invalid character {_quote(c)} {context}")


class _Input:
    def __init__(self, data: bytes) -> None:
        self.data, self.n = data, len(data)

    def at(self, i: int) -> int:
        """The byte at i; the input ending there is Go's "unexpected EOF"."""
        if i >= self.n:
            raise _Stop("unexpected EOF")
        return self.data[i]


def syntax_error(data: bytes) -> str | None:
    """Go's error for the first JSON value of `data`, or None when that value is well formed
    (what follows it is not read, as json.Decoder does not)."""
    try:
        _scan(data)
    except _Stop as stop:
        return stop.message
    return None


def _scan(data: bytes) -> None:
    inp = _Input(data)
    n, i = len(data), 0
    stack: list[int] = []
    state = "value"
    while True:
        while i < n and data[i] in _WS:
            i += 1
        c = inp.at(i)
        if state in ("value", "first"):
            if state == "first" and c == ord("]"):
                stack.pop()
                i += 1
            elif c in b"{[":
                if len(stack) >= MAX_DEPTH:
                    raise _err(c, "exceeded max depth")
                stack.append(c)
                i += 1
                state = "key_or_end" if c == ord("{") else "first"
                continue
            elif c == ord('"'):
                i = _string(inp, i + 1)
            elif c == ord("-") or c in _DIGITS:
                i = _number(inp, i, top=not stack)
            elif c in b"tfn":
                i = _literal(inp, i)
            else:
                raise _err(c, "looking for beginning of value")
        elif state in ("key_or_end", "key"):
            if state == "key_or_end" and c == ord("}"):
                stack.pop()
                i += 1
            elif c == ord('"'):
                i = _string(inp, i + 1)
                state = "colon"
                continue
            else:
                raise _err(c, "looking for beginning of object key string")
        elif state == "colon":
            if c != ord(":"):
                raise _err(c, "after object key")
            i += 1
            state = "value"
            continue
        else:  # "next": after a value inside an object or array
            obj = stack[-1] == ord("{")
            if c == ord(","):
                i += 1
                state = "key" if obj else "value"
                continue
            if c != (ord("}") if obj else ord("]")):
                raise _err(c, "after object key:value pair" if obj else "after array element")
            stack.pop()
            i += 1
        # a value ended
        if not stack:
            return
        state = "next"


def _string(inp: _Input, i: int) -> int:
    while True:
        c = inp.at(i)
        if c == ord('"'):
            return i + 1
        if c == ord("\\"):
            e = inp.at(i + 1)
            if e == ord("u"):
                for k in range(i + 2, i + 6):
                    h = inp.at(k)
                    if h not in b"0123456789abcdefABCDEF":
                        raise _err(h, "in \\u hexadecimal character escape")
                i += 6
                continue
            if e not in b'bfnrt\\/"':
                raise _err(e, "in string escape code")
            i += 2
            continue
        if c < 0x20:
            raise _err(c, "in string literal")
        i += 1


def _number(inp: _Input, i: int, top: bool) -> int:
    data, n = inp.data, inp.n

    def after(at: int) -> int | None:
        # A top-level number may end with the input; inside a container it may not.
        return None if at >= n and top else inp.at(at)

    if data[i] == ord("-"):
        i += 1
        c = inp.at(i)
        if c not in _DIGITS:
            raise _err(c, "in numeric literal")
    if data[i] == ord("0"):
        i += 1
    else:
        while i < n and data[i] in _DIGITS:
            i += 1
    c = after(i)
    if c == ord("."):
        c = inp.at(i + 1)
        if c not in _DIGITS:
            raise _err(c, "after decimal point in numeric literal")
        i += 1
        while i < n and data[i] in _DIGITS:
            i += 1
        c = after(i)
    if c is not None and c in b"eE":
        i += 1
        c = inp.at(i)
        if c in b"+-":
            i += 1
            c = inp.at(i)
        if c not in _DIGITS:
            raise _err(c, "in exponent of numeric literal")
        while i < n and data[i] in _DIGITS:
            i += 1
    return i


def _literal(inp: _Input, i: int) -> int:
    word = {ord("t"): b"true", ord("f"): b"false", ord("n"): b"null"}[inp.data[i]]
    for k in range(1, len(word)):
        c = inp.at(i + k)
        if c != word[k]:
            raise _err(c, f"in literal {word.decode()} (expecting {_quote(word[k])})")
    return i + len(word)
