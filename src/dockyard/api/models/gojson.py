"""Request bodies decoded as Go's encoding/json decodes them into the Engine
API's types: once, at the edge, before anything is stored.

A model is a class whose annotations are the Engine API type's fields
(`class RestartPolicy(Model): Name: str; MaximumRetryCount: Int`); `decode`
checks a body against it and returns a plain dict with only the fields that
were sent, under their canonical names, so the services keep the shapes they
read today. What Go does, and so what this does:
- field names match case-insensitively (`hostconfig`, `detachKeys`); unknown
  fields are ignored (dropped here: nothing unvalidated reaches a service);
- `null` leaves a field as it was (None when not set before: the services read
  None as unset, and inspect shows such a field as null), a list element or map
  value becomes its type's zero;
- a wrong type is refused with Go's words, naming the innermost struct and the
  field path: `json: cannot unmarshal string into Go struct field
  HostConfig.HostConfig.Privileged of type bool`; numbers must fit the field's
  integer type (`number 1.5 ... of type int64`);
- the first value of the body is read and anything after it ignored (Go's
  Decoder), invalid UTF-8 in strings becomes U+FFFD.

Parsing is msgspec's (CPU per docker CLI create body of 1.9 kB: 20 µs against
json.loads' 48 µs; strict about lone surrogates, a clean error for deep nesting).
The type check is ours, a walk compiled once per model: neither msgspec nor
pydantic matches names case-insensitively or speaks Go's error wording, and
clients depend on both. The whole typed decode costs ~110 µs CPU per create
(`bench/request_decode.py`), against a `docker run` of ~100 ms.
"""

from __future__ import annotations

import json
import re
import typing
from typing import Annotated, Any, ClassVar, get_args, get_origin

import msgspec

from dockyard.api.errors import InvalidParameter
from dockyard.api.models import gosyntax

__all__ = [
    "Model", "decode", "decode_value", "parse", "parse_literal", "GoType", "Int", "Int64", "Uint", "Uint16", "Uint32",
    "Uint64", "Duration", "FileMode", "Float64", "StrSlice", "Empty", "Ptr", "named",
]  # fmt: skip


class GoType:
    """Annotation naming a field's Go type where Python's type does not say it."""

    def __init__(self, name: str) -> None:
        self.name = name


class _IntRange(GoType):
    def __init__(self, name: str, lo: int, hi: int) -> None:
        super().__init__(name)
        self.lo, self.hi = lo, hi


class _Ptr:
    pass


_PTR = _Ptr()
_I64 = (-(1 << 63), (1 << 63) - 1)
Int = Annotated[int, _IntRange("int", *_I64)]
Int64 = Annotated[int, _IntRange("int64", *_I64)]
Duration = Annotated[int, _IntRange("time.Duration", *_I64)]
Uint = Annotated[int, _IntRange("uint", 0, (1 << 64) - 1)]
Uint16 = Annotated[int, _IntRange("uint16", 0, (1 << 16) - 1)]
Uint32 = Annotated[int, _IntRange("uint32", 0, (1 << 32) - 1)]
Uint64 = Annotated[int, _IntRange("uint64", 0, (1 << 64) - 1)]
FileMode = Annotated[int, _IntRange("fs.FileMode", 0, (1 << 32) - 1)]
Float64 = Annotated[float, GoType("float64")]


class StrSlice(list[str]):
    """strslice.StrSlice: a JSON string or a list of strings; decodes to a list."""


class Empty(dict[str, Any]):
    """Go's `struct {}` (the values of nat.PortSet and Volumes): any object."""


def named(go_name: str) -> GoType:
    """A Go named type over a scalar: `Annotated[str, named("container.NetworkMode")]`."""
    return GoType(go_name)


T = typing.TypeVar("T")
Ptr = Annotated[T, _PTR]


class Model:
    """Base of the request models. `__go__` is the Go type's qualified name
    (`container.HostConfig`); the struct's own name is its last part."""

    __go__: ClassVar[str] = ""


class _Num(str):
    """A number literal that is not a plain integer (or too long for msgspec): its text."""


class _GoError(Exception):
    def __init__(self, kind: str, gotype: str) -> None:
        self.kind, self.gotype = kind, gotype


# ---- the compiled decoders: each takes a parsed value and returns the checked one


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, str):
        return "number" if isinstance(v, _Num) else "string"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, list):
        return "array"
    return "object"


class _Node:
    gotype = ""
    zero: Any = None

    def __call__(self, v: Any) -> Any:
        raise NotImplementedError


def _fail(v: Any, node: _Node, kind: str = "") -> typing.NoReturn:
    raise _GoError(kind or _kind(v), node.gotype)


class _Located(Exception):
    """A _GoError with where it happened: the innermost struct's name and the field path
    (struct fields only, as Go's errorContext keeps them), filled in on the way out."""

    def __init__(self, err: _GoError, struct: str, path: list[str]) -> None:
        self.err, self.struct, self.path = err, struct, path

    def message(self) -> str:
        return (
            f"json: cannot unmarshal {self.err.kind} into Go struct field "
            f"{self.struct}.{'.'.join(self.path)} of type {self.err.gotype}"
        )


class _Str(_Node):
    zero = ""

    def __init__(self, gotype: str = "string") -> None:
        self.gotype = gotype

    def __call__(self, v: Any) -> Any:
        if type(v) is str:
            return v
        _fail(v, self)


class _Bool(_Node):
    gotype = "bool"
    zero = False

    def __call__(self, v: Any) -> Any:
        if v is True or v is False:
            return v
        _fail(v, self)


class _Integer(_Node):
    zero = 0

    def __init__(self, rng: _IntRange) -> None:
        self.gotype, self.lo, self.hi = rng.name, rng.lo, rng.hi

    def __call__(self, v: Any) -> Any:
        if type(v) is int:
            if self.lo <= v <= self.hi:
                return v
            _fail(v, self, f"number {v}")
        if isinstance(v, _Num):
            _fail(v, self, f"number {v}")
        _fail(v, self)


class _Float(_Node):
    gotype = "float64"
    zero = 0.0

    def __call__(self, v: Any) -> Any:
        if type(v) is int:
            return float(v)
        if isinstance(v, _Num):
            try:
                f = float(v)
            except ValueError:
                f = float("inf")
            if f in (float("inf"), float("-inf")):
                _fail(v, self, f"number {v}")
            return f
        _fail(v, self)


class _List(_Node):
    def __init__(self, elem: _Node, ptr: bool, array_len: int | None = None) -> None:
        self.elem, self.array_len = elem, array_len
        prefix = f"[{array_len}]" if array_len is not None else "[]"
        self.gotype = prefix + ("*" if ptr else "") + elem.gotype

    def __call__(self, v: Any) -> Any:
        if type(v) is not list:
            _fail(v, self)
        elem, zero = self.elem, self.elem.zero
        out = [zero if x is None else elem(x) for x in v]
        if (
            self.array_len is not None
        ):  # Go fills a fixed array: extra elements dropped, missing zero
            out = (out + [zero] * self.array_len)[: self.array_len]
        return out


class _StrSlice(_Node):
    """strslice.StrSlice.UnmarshalJSON: a list of strings, else a string; its error is the string's."""

    gotype = "string"

    def __call__(self, v: Any) -> Any:
        if type(v) is str:
            return [v]
        if type(v) is list and all(x is None or type(x) is str for x in v):
            return ["" if x is None else x for x in v]
        _fail(v, self)


class _Map(_Node):
    def __init__(self, value: _Node, ptr: bool, gotype: str | None = None) -> None:
        self.value, self.ptr = value, ptr
        self.gotype = gotype or "map[string]" + ("*" if ptr else "") + value.gotype

    def __call__(self, v: Any) -> Any:
        if type(v) is not dict:
            _fail(v, self)
        value = self.value
        zero = None if self.ptr and not isinstance(value, _Struct) else value.zero
        return {k: (zero if x is None else value(x)) for k, x in v.items()}


class _Empty(_Node):
    gotype = "struct {}"

    @property
    def zero(self) -> Any:
        return {}

    def __call__(self, v: Any) -> Any:
        if type(v) is dict:
            return {}
        _fail(v, self)


class _Struct(_Node):
    def __init__(self, model: type[Model]) -> None:
        self.model = model
        self.gotype = model.__go__
        self.name = model.__go__.rsplit(".", 1)[-1]
        self.fields: dict[str, tuple[str, _Node, type | None]] = {}

    @property
    def zero(self) -> Any:
        return {}

    def members(self) -> dict[str, _Node]:
        """The struct's fields by canonical name."""
        return {name: node for name, node, _ in self.fields.values()}

    def __call__(self, v: Any) -> Any:
        if type(v) is not dict:
            _fail(v, self)
        out: dict[str, Any] = {}
        fields = self.fields
        for key, x in v.items():
            f = fields.get(key) or fields.get(_fold(key))
            if f is None:
                continue
            name, node, scalar = f
            if type(x) is scalar:  # the common case of a right-typed string or bool, inline
                out[name] = x
                continue
            if x is None:  # Go: null leaves the field as it was; kept as None when unset
                out.setdefault(name, None)
                continue
            try:
                out[name] = node(x)
            except _GoError as exc:
                raise _Located(exc, self.name, [name]) from None
            except _Located as exc:
                exc.path.insert(0, name)
                raise
        return out


def _fold(key: str) -> str:
    # Go's EqualFold folds the two non-ASCII letters that fold to ASCII ones.
    return key.replace("\u017f", "s").replace("\u212a", "k").lower()


_COMPILED: dict[type[Model], _Struct] = {}


def _compile(model: type[Model]) -> _Struct:
    node = _COMPILED.get(model)
    if node is not None:
        return node
    node = _COMPILED[model] = _Struct(model)
    hints = typing.get_type_hints(model, include_extras=True)
    for name, hint in hints.items():
        if get_origin(hint) is ClassVar or name.startswith("_"):
            continue
        field = _node(hint)
        scalar = str if isinstance(field, _Str) else bool if isinstance(field, _Bool) else None
        node.fields[name] = (name, field, scalar)
        node.fields.setdefault(name.lower(), (name, field, scalar))
    return node


def _node(hint: Any) -> _Node:
    node, _ = _node_ptr(hint)
    return node


def _node_ptr(hint: Any) -> tuple[_Node, bool]:
    ptr = False
    go: GoType | None = None
    array_len: int | None = None
    if get_origin(hint) is Annotated:
        hint, *extras = get_args(hint)
        for e in extras:
            if e is _PTR:
                ptr = True
            elif isinstance(e, GoType):
                go = e
            elif isinstance(e, int):
                array_len = e
    if isinstance(go, _IntRange):
        return _Integer(go), ptr
    if hint is str:
        return _Str(go.name if go else "string"), ptr
    if hint is bool:
        return _Bool(), ptr
    if hint is float:
        return _Float(), ptr
    if hint is int:
        raise TypeError("say which Go integer type: Int, Int64, Uint16, ...")
    if hint is StrSlice:
        return _StrSlice(), ptr
    if hint is Empty:
        return _Empty(), ptr
    if isinstance(hint, type) and issubclass(hint, Model):
        return _compile(hint), ptr
    origin = get_origin(hint)
    if origin is list:
        elem, eptr = _node_ptr(get_args(hint)[0])
        return _List(elem, eptr, array_len), ptr
    if origin is dict:
        value, vptr = _node_ptr(get_args(hint)[1])
        return _Map(value, vptr, go.name if go else None), ptr
    raise TypeError(f"no Go decoding for {hint!r}")


# ---- parsing

_DECODERS = {True: msgspec.json.Decoder(float_hook=_Num), False: msgspec.json.Decoder()}
_TRAILING = re.compile(r"trailing characters \(byte (\d+)\)")


def parse(raw: bytes) -> Any:
    """The first JSON value of `raw`, as Go's json.Decoder reads it, as plain values (as
    json.loads gives them), for bodies without a model; 400 on malformed input."""
    return _parse(raw, literal=False)


def parse_literal(raw: bytes) -> Any:
    """`parse`, but a number that is not a plain integer is kept as its text, which
    `decode_value` needs to say what Go says ("number 1.5"): the input of a model."""
    return _parse(raw, literal=True)


def _parse(raw: bytes, literal: bool) -> Any:
    try:
        return _DECODERS[literal].decode(raw)
    except msgspec.ValidationError:
        # An integer longer than msgspec holds: read it again keeping long numbers as text.
        return _parse_slow(raw, literal)
    except msgspec.DecodeError as exc:
        msg = str(exc)
        m = _TRAILING.search(msg)
        if m:  # Go's Decoder reads one value and leaves the rest (msgspec counts past the byte)
            return _parse(raw[: int(m.group(1)) - 1], literal)
        if "UTF-8" in msg:  # Go replaces invalid bytes in strings with U+FFFD
            fixed = raw.decode("utf-8", "replace").encode()
            if fixed != raw:
                return _parse(fixed, literal)
        if _SURROGATE.search(raw):  # msgspec refuses lone surrogates; Go makes them U+FFFD
            return _parse_slow(raw, literal)
        raise InvalidParameter(gosyntax.syntax_error(raw) or f"invalid JSON: {msg}") from None
    except RecursionError:
        raise _too_deep(raw) from None


def _too_deep(raw: bytes) -> InvalidParameter:
    # Go nests to 10000 levels, msgspec and Python's json to about 1000: between the
    # two, the document is well formed but more than we read.
    return InvalidParameter(gosyntax.syntax_error(raw) or "invalid JSON: nested too deeply")


_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _parse_slow(raw: bytes, literal: bool) -> Any:
    decoder = (
        json.JSONDecoder(parse_int=_int_or_text, parse_float=_Num)
        if literal
        else json.JSONDecoder(parse_int=_plain_int)
    )
    try:
        value = decoder.raw_decode(raw.decode("utf-8", "replace").lstrip())[0]
    except json.JSONDecodeError as exc:
        raise InvalidParameter(gosyntax.syntax_error(raw) or f"invalid JSON: {exc}") from None
    except RecursionError:
        raise _too_deep(raw) from None
    return _no_surrogates(value)


def _no_surrogates(v: Any) -> Any:
    if type(v) is str:
        return v.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if type(v) is list:
        return [_no_surrogates(x) for x in v]
    if type(v) is dict:
        return {_no_surrogates(k): _no_surrogates(x) for k, x in v.items()}
    return v


def _int_or_text(s: str) -> Any:
    return int(s) if len(s) <= 40 else _Num(s)


def _plain_int(s: str) -> Any:
    # Without a model, Go reads a number as a float64, which holds about 309 digits.
    if len(s.lstrip("-")) > 309:
        raise InvalidParameter(f"json: cannot unmarshal number {s} into Go value of type float64")
    return int(s)


def decode_value(value: Any, model: Any) -> Any:
    """Check an already parsed JSON value against `model` (see `decode`)."""
    node = _compile(model) if isinstance(model, type) and issubclass(model, Model) else _node(model)
    try:
        return node(value)
    except _GoError as exc:
        raise InvalidParameter(
            f"json: cannot unmarshal {exc.kind} into Go value of type {exc.gotype}"
        ) from None
    except _Located as exc:
        raise InvalidParameter(exc.message()) from None


def decode(raw: bytes | str, model: Any, empty: Any = None) -> Any:
    """Decode a request body (or a JSON query parameter) into `model` as Go would: a
    Model class, or a type such as `dict[str, Ptr[str]]`. `empty` for a blank or `null`
    body. Raises InvalidParameter (400) with Go's wording."""
    if isinstance(raw, str):
        raw = raw.encode()
    if not raw.strip():
        return empty
    value = parse_literal(raw)
    if value is None:
        return empty
    return decode_value(value, model)
