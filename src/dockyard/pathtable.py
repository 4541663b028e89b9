"""A data-root layout as a table: `below(root, *parts)` is a read-only attribute that
joins `parts` onto the instance's `root` attribute (a str through `os.path.join`, or a
Path through `joinpath`), so each paths module (the daemon's, the image store's, the snapshotter's)
lists its layout one line a directory, beside the docstring that draws it. Pure, no
I/O; imports nothing of ours, so store/ and snapshot/ may use it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Generic, TypeVar, overload

P = TypeVar("P", str, Path)


class Below(Generic[P]):
    __slots__ = ("root", "parts", "as_path")

    def __init__(self, root: str, parts: tuple[str, ...], as_path: bool) -> None:
        self.root, self.parts, self.as_path = root, parts, as_path

    @overload
    def __get__(self, obj: None, owner: type) -> Below[P]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> P: ...
    def __get__(self, obj: object, owner: type) -> Below[P] | P:
        if obj is None:
            return self
        base = getattr(obj, self.root)
        if self.as_path:
            return base.joinpath(*self.parts)  # type: ignore[no-any-return]
        return os.path.join(base, *self.parts)  # type: ignore[return-value]


def below(root: str, *parts: str) -> Below[str]:
    """A str path below the str attribute `root`."""
    return Below(root, parts, as_path=False)


def path_below(root: str, *parts: str) -> Below[Path]:
    """A Path below the Path attribute `root`."""
    return Below(root, parts, as_path=True)
