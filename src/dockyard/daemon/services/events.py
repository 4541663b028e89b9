"""The daemon's event bus: every service publishes Docker's events here
(container create/start/die/destroy, image import/tag/untag/delete, ...);
`GET /events` subscribes. A bounded in-memory history serves `since`.
A subscriber that does not read holds at most `QUEUE` events; later ones are
dropped for it (dockerd's publisher drops them after a short wait), so a stalled
`docker events` client cannot grow the daemon's memory."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    type: str  # container | image | network | volume | daemon | builder
    action: str  # create, start, die, destroy, tag, untag, delete, import, ...
    actor_id: str
    attributes: dict[str, str] = field(default_factory=dict)
    time_nano: int = 0

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Type": self.type,
            "Action": self.action,
            "Actor": {"ID": self.actor_id, "Attributes": dict(self.attributes)},
            "scope": "local",
            "time": self.time_nano // 1_000_000_000,
            "timeNano": self.time_nano,
        }
        if self.type == "container":
            out["status"] = self.action
            out["id"] = self.actor_id
            if "image" in self.attributes:
                out["from"] = self.attributes["image"]
        return out


QUEUE = 1024


class EventBus:
    def __init__(self, history: int = 1024) -> None:
        self._history: deque[Event] = deque(maxlen=history)
        self._subscribers: set[asyncio.Queue[Event]] = set()

    def publish(
        self, type: str, action: str, actor_id: str, attributes: dict[str, str] | None = None
    ) -> Event:
        ev = Event(type, action, actor_id, dict(attributes or {}), time.time_ns())
        self._history.append(ev)
        for q in self._subscribers:
            if not q.full():
                q.put_nowait(ev)
        return ev

    def since(self, since_nano: int) -> list[Event]:
        return [e for e in self._history if e.time_nano >= since_nano]

    def subscribe(self) -> asyncio.Queue[Event]:
        q: asyncio.Queue[Event] = asyncio.Queue(QUEUE)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Event]) -> None:
        self._subscribers.discard(q)

    @property
    def listeners(self) -> int:
        """/info's NEventsListener: the clients following /events now."""
        return len(self._subscribers)
