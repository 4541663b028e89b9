"""Signal names and numbers as ``runc kill`` accepts them, without :mod:`signal`.

The :mod:`signal` module imports :mod:`enum` (~8 ms); the runtime needs only
the Linux numbering (x86_64 and arm64 agree) and ``_signal.signal``.
"""

from __future__ import annotations

__all__ = ["SIGNALS", "parse_signal", "signal_name"]

SIGNALS: dict[str, int] = {
    "SIGHUP": 1,
    "SIGINT": 2,
    "SIGQUIT": 3,
    "SIGILL": 4,
    "SIGTRAP": 5,
    "SIGABRT": 6,
    "SIGIOT": 6,
    "SIGBUS": 7,
    "SIGFPE": 8,
    "SIGKILL": 9,
    "SIGUSR1": 10,
    "SIGSEGV": 11,
    "SIGUSR2": 12,
    "SIGPIPE": 13,
    "SIGALRM": 14,
    "SIGTERM": 15,
    "SIGSTKFLT": 16,
    "SIGCHLD": 17,
    "SIGCLD": 17,
    "SIGCONT": 18,
    "SIGSTOP": 19,
    "SIGTSTP": 20,
    "SIGTTIN": 21,
    "SIGTTOU": 22,
    "SIGURG": 23,
    "SIGXCPU": 24,
    "SIGXFSZ": 25,
    "SIGVTALRM": 26,
    "SIGPROF": 27,
    "SIGWINCH": 28,
    "SIGIO": 29,
    "SIGPOLL": 29,
    "SIGPWR": 30,
    "SIGSYS": 31,
}
SIGRTMIN = 34
SIGRTMAX = 64


def parse_signal(text: str) -> int:
    """``"KILL"``, ``"SIGKILL"``, ``"kill"``, ``"9"``, ``"RTMIN+3"`` -> number; ValueError otherwise."""
    raw = text.strip()
    if raw.isdigit():
        number = int(raw)
        if 0 < number <= SIGRTMAX:
            return number
        raise ValueError(f"unknown signal {text!r}")
    name = raw.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name in SIGNALS:
        return SIGNALS[name]
    for base, value, sign in (("SIGRTMIN", SIGRTMIN, 1), ("SIGRTMAX", SIGRTMAX, -1)):
        if name == base:
            return value
        if name.startswith(base) and name[len(base)] in "+-":
            offset = name[len(base) + 1 :]
            if offset.isdigit():
                number = value + int(offset) * (1 if name[len(base)] == "+" else -1)
                if SIGRTMIN <= number <= SIGRTMAX and (sign > 0) == (name[len(base)] == "+"):
                    return number
    raise ValueError(f"unknown signal {text!r}")


def signal_name(number: int) -> str:
    """The canonical name of a signal number (``SIGRTMIN+n`` for real-time ones)."""
    for name, value in SIGNALS.items():
        if value == number:
            return name
    if SIGRTMIN <= number <= SIGRTMAX:
        return f"SIGRTMIN+{number - SIGRTMIN}" if number != SIGRTMIN else "SIGRTMIN"
    return f"signal {number}"
