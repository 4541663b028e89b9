"""The errors a compose file or command reports to the user.

`ComposeError` is what the CLI prints (and exits 1 with, as Compose v2 does);
`ValidationError` names the file and the dotted key path (`services.web.ports.0`)
so a user finds the mistake without reading a stack trace.
"""

from __future__ import annotations


class ComposeError(Exception):
    """An error the compose CLI prints as-is."""


class InterpolationError(ComposeError):
    """A `${VAR:?message}` that is unset, or a malformed substitution."""


class ValidationError(ComposeError):
    """A model that breaks the specification: `validating FILE: PATH MESSAGE`."""

    def __init__(self, file: str | None, path: str, message: str) -> None:
        where = f"validating {file}: " if file else ""
        super().__init__(f"{where}{path} {message}" if path else f"{where}{message}")
        self.file = file
        self.path = path
        self.message = message
