"""Signal names and numbers as ``runc kill`` accepts them, and the reset of inherited
signal state, without :mod:`signal`.

The :mod:`signal` module imports :mod:`enum` (~8 ms); the runtime needs only
the Linux numbering (x86_64 and arm64 agree) and ``_signal``.

Ignored dispositions and the blocked mask survive ``fork`` and ``exec``: a daemon
started as ``nohup dockyardd &`` (SIGHUP, SIGINT, SIGQUIT ignored) would hand them
to every container process, where ``sleep`` then ignores Ctrl-C. The user process
gets every disposition at its default and an empty mask (:func:`reset_for_exec`,
as runc does); the daemon and the monitor processes drop what they inherited at
start (:func:`reset_inherited`).
"""

from __future__ import annotations

import _signal

__all__ = [
    "SIGNALS",
    "parse_signal",
    "signal_name",
    "reset_for_exec",
    "reset_inherited",
    "inherited_bad",
]

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


# Python ignores these two itself at start-up: a Python process keeps them so.
_PYTHON_IGNORES = frozenset((13, 25))  # SIGPIPE, SIGXFSZ
_UNCATCHABLE = frozenset((9, 19))  # SIGKILL, SIGSTOP


def reset_for_exec() -> None:
    """Every disposition to its default and an empty mask: the last step before
    ``execve`` of a user process (handlers reset by exec anyway; ignored ones would not)."""
    for number in range(1, SIGRTMAX + 1):
        if number not in _UNCATCHABLE:
            try:
                _signal.signal(number, _signal.SIG_DFL)
            except (OSError, ValueError):
                pass  # 32 and 33: the C library's own
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


def reset_inherited() -> None:
    """At the start of a long-lived Python process (daemon, monitor zygote and hosts):
    signals it was started with ignored go back to their defaults (except the two
    Python itself ignores) and the mask is emptied; the caller then installs its own."""
    for number in range(1, SIGRTMAX + 1):
        if number in _UNCATCHABLE or number in _PYTHON_IGNORES:
            continue
        try:
            if _signal.getsignal(number) == _signal.SIG_IGN:
                _signal.signal(number, _signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


def inherited_bad(pid: int, allowed_ignored: frozenset[int] = frozenset()) -> bool:
    """Whether process ``pid`` ignores a signal beyond ``allowed_ignored`` and Python's
    own, or blocks any: such a process would pass them on to what it starts."""
    ignored = blocked = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("SigIgn:"):
                ignored = int(line.split()[1], 16)
            elif line.startswith("SigBlk:"):
                blocked = int(line.split()[1], 16)
    allowed = 0
    for number in allowed_ignored | _PYTHON_IGNORES:
        allowed |= 1 << (number - 1)
    return bool(ignored & ~allowed) or bool(blocked)
