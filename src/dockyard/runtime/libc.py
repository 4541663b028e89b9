"""The C library functions the runtime calls, bound through ``_ctypes`` alone.

Why not :mod:`ctypes`: importing it costs ~4 ms of CPU (its ``__init__`` builds
dozens of types), paid by every ``create``, ``run`` and ``exec``; this module
costs ~1 ms, the load of ``_ctypes`` itself. What the runtime passes is few
shapes: ints (``_ctypes`` passes a Python int as a C ``int``), ``bytes`` and
``None`` (``char *`` and ``NULL``), :class:`ULong`/:class:`Long` where C wants
a ``long`` (mount flags, prctl arguments, ``syscall``), and :class:`Buffer`
for memory the kernel reads or writes. Functions return ``int`` unless bound
with ``returns_long`` (``syscall``): an ``int`` read as a ``long`` would lose
its sign. ``errno`` is kept per call (``FUNCFLAG_USE_ERRNO``), read by
:func:`errno`. libseccomp's compiler (``seccomp._compile``, on a cache miss)
still uses :mod:`ctypes`.
"""

from __future__ import annotations

import _ctypes

__all__ = ["Long", "ULong", "Buffer", "buffer", "function", "errno", "address"]

_RTLD_NOW = 2


class Long(_ctypes._SimpleCData):
    _type_ = "l"


class ULong(_ctypes._SimpleCData):
    _type_ = "L"


class _Int(_ctypes._SimpleCData):
    _type_ = "i"


class _Char(_ctypes._SimpleCData):
    _type_ = "c"


class Buffer(_ctypes.Array):
    """64 writable bytes of C memory (``.raw`` reads and writes them)."""

    _type_ = _Char
    _length_ = 64


def buffer(data: bytes) -> _ctypes.Array:
    """C memory holding ``data`` (at least :class:`Buffer`'s size), kept alive by the caller."""
    if len(data) <= Buffer._length_:
        b = Buffer()
    else:
        b = type("Program", (_ctypes.Array,), {"_type_": _Char, "_length_": len(data)})()
    b.raw = data
    return b


class _IntFunction(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _Int


class _LongFunction(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = Long


class _Process:
    """The symbols already loaded into this process (``dlopen(NULL)``): libc's."""

    _handle = _ctypes.dlopen(None, _RTLD_NOW)


def function(name: str, returns_long: bool = False):
    """libc's ``name`` as a callable returning a Python int."""
    kind = _LongFunction if returns_long else _IntFunction
    return kind((name, _Process))


def errno() -> int:
    """The ``errno`` the last call through this module left."""
    return _ctypes.get_errno()


def address(obj: _ctypes.Array) -> int:
    return _ctypes.addressof(obj)
