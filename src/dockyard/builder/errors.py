"""The classic builder's step error: a 400 whose message (and the step's exit
code, for a RUN) ends the JSON stream as its errorDetail. In its own module so
the builder's helper modules can raise it without importing the builder."""

from __future__ import annotations

from dockyard.api.errors import DockyardError


class BuildError(DockyardError):
    status = 400

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
