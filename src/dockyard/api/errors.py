"""The error hierarchy of the Engine API wire contract.

Domain code raises these; `status_for` is the one place that maps a kind of
error to an HTTP status code (moby's httpstatus, in one function). Messages
follow Docker's wording, since users grep for them.
"""

from __future__ import annotations


class DockyardError(Exception):
    """Base of every error that crosses a layer boundary with a user-facing message."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameter(DockyardError):
    status = 400


class Unauthorized(DockyardError):
    status = 401


class Forbidden(DockyardError):
    status = 403


class NotFound(DockyardError):
    status = 404


class NotModified(DockyardError):
    status = 304


class Conflict(DockyardError):
    status = 409


class Unavailable(DockyardError):
    status = 503


class SystemError_(DockyardError):
    """An internal failure (a runtime that failed, an I/O error)."""

    status = 500


def status_for(exc: BaseException) -> int:
    """The HTTP status code for an exception; anything unknown is a 500."""
    if isinstance(exc, DockyardError):
        return exc.status
    return 500


class NoSuchContainer(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"No such container: {ref}")


class NoSuchImage(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"No such image: {ref}")
