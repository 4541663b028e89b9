"""Docker's detach keys (`--detach-keys`, default Ctrl-P Ctrl-Q), sans-I/O.

`parse("ctrl-p,ctrl-q")` gives the byte sequence; `Scanner.feed(data)` returns
the bytes to pass on and whether the sequence was typed. Bytes that could
start the sequence are held back until they match or stop matching (then they
are passed on), as docker's term.EscapeProxy does.
"""

from __future__ import annotations

DEFAULT = "ctrl-p,ctrl-q"


def parse(spec: str) -> bytes:
    out = bytearray()
    for part in spec.split(","):
        key = part.strip()
        if len(key) == 1:
            out.append(ord(key))
            continue
        low = key.lower()
        if not low.startswith("ctrl-") or len(low) != 6:
            raise ValueError(f"Invalid detach keys ({spec}) provided")
        ch = low[5]
        if "a" <= ch <= "z":
            out.append(ord(ch) - ord("a") + 1)
        elif ch in "@[\\]^_":
            out.append({"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}[ch])
        else:
            raise ValueError(f"Invalid detach keys ({spec}) provided")
    if not out:
        raise ValueError(f"Invalid detach keys ({spec}) provided")
    return bytes(out)


class Scanner:
    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = 0  # how many bytes of keys are matched and held back

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        out = bytearray()
        for b in data:
            if b == self.keys[self.held]:
                self.held += 1
                if self.held == len(self.keys):
                    self.held = 0
                    return bytes(out), True
                continue
            if self.held:
                out += self.keys[: self.held]
                self.held = 0
                if b == self.keys[0]:
                    self.held = 1
                    continue
            out.append(b)
        return bytes(out), False
