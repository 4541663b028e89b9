"""What the agent needs of a container engine, declared by the agent (the consumer):
the daemon implements it over its container service; tests may implement it otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol


class TaskContainers(Protocol):
    async def create(self, name: str, body: dict[str, Any], files: dict[str, bytes]) -> str:
        """A container from an Engine API create body; `files` (absolute path in the
        container → bytes) are placed on a tmpfs, never on the node's disk."""
        ...

    async def start(self, container_id: str) -> None: ...

    async def stop(self, container_id: str, timeout: int | None = None) -> None: ...

    async def remove(self, container_id: str) -> None:
        """Force-removes the container and whatever `create` made for it; absent is fine."""
        ...

    async def wait(self, container_id: str) -> int:
        """Until the container is not running; its exit code."""
        ...

    def pid(self, container_id: str) -> int: ...

    def by_label(self, label: str) -> dict[str, str]:
        """label value → container id, for every container that carries `label`."""
        ...

    async def wait_healthy(self, container_id: str) -> str:
        """Until a container with a health check is healthy or unhealthy, or has stopped:
        its health status then ("" without a check)."""
        ...

    def logs(self, container_id: str, *, stdout: bool, stderr: bool, follow: bool,
             timestamps: bool, tail: int | None) -> AsyncIterator[tuple[int, bytes]]:  # fmt: skip
        """(stream, bytes) of the container's log, as `docker logs` reads it."""
        ...

    def health_events(self) -> AsyncIterator[tuple[str, str]]:
        """(container id, health status) each time a container's health changes."""
        ...
