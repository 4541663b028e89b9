"""Which events a `GET /events?filters=` passes, as dockerd's events.Filter decides.

Unlike the list filters (api/filters.py: regular expressions), dockerd matches events
with `FuzzyMatch`: the value equals the field or is a prefix of it. `container`,
`network`, `volume` and `plugin` look at the actor's id and its `name` attribute
whatever the event's type (so `container=web` passes the events of `web2`, and no
network event unless the network's name or id starts with `web`). `image` matches
exactly the actor's id or the image name (an image event's `name`, a container
event's `image`), each also with its tag or digest stripped. `event` is exact,
except for `health_status`, `exec_create` and `exec_start`, whose actions carry a
suffix (`exec_start: sh -c ...`). Every filter given must pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from dockyard.api.errors import InvalidParameter
from dockyard.api.filters import labels_match
from dockyard.proto import reference


class EventLike(Protocol):
    """What matching reads of an event (the daemon's events.Event has it)."""

    type: str
    action: str
    actor_id: str
    attributes: Mapping[str, str]


_ACTION_WITH_SUFFIX = {"health_status", "exec_create", "exec_start"}


def _fuzzy(values: Iterable[str], source: str) -> bool:
    return any(source.startswith(v) for v in values)  # equal or a prefix


def _strip_tag(image: str) -> str:
    try:
        return reference.parse_normalized(image).familiar_name
    except InvalidParameter:
        return image


def _image(values: list[str], ev: EventLike) -> bool:
    name = ev.attributes.get("name" if ev.type == "image" else "image", "")
    candidates = {ev.actor_id, name, _strip_tag(ev.actor_id), _strip_tag(name)} - {""}
    return any(v in candidates for v in values)


def _actor(values: list[str], ev: EventLike) -> bool:
    return _fuzzy(values, ev.actor_id) or _fuzzy(values, ev.attributes.get("name", ""))


def _event(values: list[str], ev: EventLike) -> bool:
    if _ACTION_WITH_SUFFIX & set(values):
        return _fuzzy(values, ev.action)
    return ev.action in values


_MATCHERS: dict[str, Callable[[list[str], EventLike], bool]] = {
    "type": lambda values, ev: ev.type in values,
    "event": _event,
    "container": _actor,
    "network": _actor,
    "volume": _actor,
    "plugin": _actor,
    "image": _image,
    "label": lambda values, ev: labels_match(ev.attributes, {"label": values}),
}


def event_matches(ev: EventLike, filters: dict[str, list[str]]) -> bool:
    """`ev` (type, action, actor_id, attributes) passes every filter in `filters`."""
    return all(
        matcher(values, ev)
        for key, values in filters.items()
        if values and (matcher := _MATCHERS.get(key)) is not None
    )
