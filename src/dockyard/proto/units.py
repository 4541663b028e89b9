"""go-units sizes, the one home for every size the engine parses or prints.

Parsing is go-units `RAMInBytes` (binary multiples: `512m`, `1.5g`, `1t`, `10 KiB`),
used alike by `run`/`create`, `update`, log options and the runtime's `update`.
Printing is go-units `HumanSizeWithPrecision` (decimal: `4.26MB`) and `BytesSize`
(binary: `7.755GiB`), as the docker CLI and dockerd's progress bars print them.
Pure and without `re` at import, so the CLI starts fast.
"""

from __future__ import annotations

__all__ = ["ram_in_bytes", "mem_swap_bytes", "human_size", "bytes_size", "num_error"]

_BINARY = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_FLOAT = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def num_error(func: str, text: str, reason: str) -> ValueError:
    """strconv's *NumError, worded as Go prints it."""
    return ValueError(f'strconv.{func}: parsing "{text}": {reason}')


def ram_in_bytes(text: str) -> int:
    """go-units RAMInBytes: "512m", "1.5g", "1t", "10 KiB"; binary multiples."""
    sep = max(text.rfind(c) for c in "0123456789. ")
    if sep == -1:
        raise ValueError(f"invalid size: '{text}'")
    if text[sep] == " ":
        number, suffix = text[:sep], text[sep + 1 :]
    else:
        number, suffix = text[: sep + 1], text[sep + 1 :]
    simple = number.count(".") <= 1 and number.strip(".").isdigit() and number.isascii()
    if not simple:
        import re  # only for the rare exponent form: the CLI's start-up goes without

        if re.fullmatch(_FLOAT, number) is None:
            raise num_error("ParseFloat", number, "invalid syntax")
    size = float(number)
    if size < 0:
        raise ValueError(f"invalid size: '{text}'")
    if not suffix:
        return int(size)
    lowered = suffix.lower()
    if len(suffix) <= 3:
        if lowered == "b":
            return int(size)
        if lowered[0] in _BINARY and lowered[1:] in ("", "b", "ib"):
            return int(size * _BINARY[lowered[0]])
    raise ValueError(f"invalid suffix: '{lowered if len(suffix) <= 3 else suffix}'")


def mem_swap_bytes(text: str) -> int:
    """`-1` (unlimited) or a RAMInBytes size, as opts.MemSwapBytes and runc's update."""
    return -1 if text == "-1" else ram_in_bytes(text)


def human_size(size: float, precision: int = 4) -> str:
    """go-units HumanSizeWithPrecision (decimal units): `4.26MB`, `0B`, `1e+03kB`.
    HumanSize is precision 4; the docker CLI's tables use 3."""
    i = 0
    while size >= 1000.0 and i < len(_DECIMAL_UNITS) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.{precision}g}{_DECIMAL_UNITS[i]}"


def bytes_size(size: float) -> str:
    """go-units BytesSize: binary units, 4 significant digits (`320KiB`, `7.755GiB`)."""
    i = 0
    while size >= 1024.0 and i < len(_BINARY_UNITS) - 1:
        size /= 1024.0
        i += 1
    return f"{size:.4g}{_BINARY_UNITS[i]}"
