"""The parent/child handshake of ``create`` (runc's ``libcontainer/sync.go``).

Two pipes join the ``create`` process (parent, in the host) and the child it
forks: one JSON object per line, ``{"type": ...}``. The child is first the
*bootstrap* (joins/unshares namespaces, forks the init so that it is PID 1
of the new PID namespace, then exits) and then the *init* itself.

child -> parent
    ``{"type": "userns"}``
        bootstrap unshared a user namespace; the parent must write
        ``/proc/PID/uid_map`` and ``gid_map`` (``"pid"`` is the bootstrap's).
    ``{"type": "pid", "pid": N}``
        bootstrap forked the init; N is its pid in the parent's PID namespace.
    ``{"type": "hooks"}``
        the init (in its cgroups, before pivot_root) asks the parent to run the
        ``prestart``/``createRuntime`` hooks, which need the host's view; may
        come before or after ``"pid"``: the parent answers once it has both.
    ``{"type": "ready"}``
        the init finished set-up (rootfs, pivot_root, user, capabilities) and
        found ``process.args[0]``; it now blocks opening ``exec.fifo`` for
        writing until ``start`` opens it for reading, then execs.
    ``{"type": "error", "message": S}``
        a step failed; the sender exits 1 right after.
parent -> child
    ``{"type": "userns-mapped"}``
        the id maps are written; bootstrap goes on.
    ``{"type": "cgroups-joined"}``
        the init (the ``"pid"`` above) is in the container's cgroups. The
        init waits for it before anything of the user's runs (hooks, exec)
        and, with a new cgroup namespace, before unsharing it.
    ``{"type": "hooks-done", "state": {...}}``
        the parent ran those hooks; ``state`` is the OCI state the init's own
        hooks (``createContainer``, ``startContainer``) are given.

End of file before ``ready`` or ``error`` means the child died; the parent
reports "container init exited prematurely". ``exec`` uses the same
channel with its own process in place of the init: its child's ``"pid"`` and the
process's ``"ready"`` share the pipe and may come in either order.
"""

from __future__ import annotations

import os

from . import jsontext

__all__ = ["Channel", "SyncError"]


class SyncError(RuntimeError):
    """The other side broke the protocol or reported an error."""


class Channel:
    """One end of the handshake: read from ``rfd``, write to ``wfd``."""

    def __init__(self, rfd: int, wfd: int):
        self.rfd, self.wfd = rfd, wfd
        self._buffer = b""

    def send(self, type_: str, **fields: object) -> None:
        fields["type"] = type_
        data = (jsontext.dumps(fields) + "\n").encode()
        while data:
            data = data[os.write(self.wfd, data) :]

    def receive(self) -> dict | None:
        """The next message, or None at end of file."""
        while b"\n" not in self._buffer:
            chunk = os.read(self.rfd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message = jsontext.loads(line)
        if not isinstance(message, dict) or "type" not in message:
            raise SyncError(f"malformed sync message {line!r}")
        return message

    def expect(self, *types: str) -> dict:
        """The next message, which must be one of ``types``; ``error`` raises its message."""
        message = self.receive()
        if message is None:
            raise SyncError("container init exited prematurely")
        if message["type"] == "error":
            raise SyncError(str(message.get("message")))
        if message["type"] not in types:
            raise SyncError(f"unexpected sync message {message['type']!r}, wanted {types}")
        return message

    def pending_error(self, timeout: float) -> SyncError | None:
        """The error the other side reported, if it sent one within ``timeout`` seconds
        (it is exiting: anything else it sent, or silence, is not a cause)."""
        import select

        while b"\n" not in self._buffer:
            if not select.select([self.rfd], [], [], timeout)[0]:
                return None
            chunk = os.read(self.rfd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        try:
            message = self.receive()
        except (SyncError, ValueError):
            return None
        if message is not None and message["type"] == "error":
            return SyncError(str(message.get("message")))
        return None

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.rfd = self.wfd = -1
