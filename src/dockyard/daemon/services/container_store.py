"""The container records: every container by id and by name, each record one JSON
file rewritten atomically (`fsutil.write_json_atomic`), loaded again on daemon
start. Lookups (id, name, unique id prefix), name reservation with Docker's
conflict wording, and the attributes a container's events carry live here, so
that the life cycle, exec, ops and the network side share one copy.
"""

from __future__ import annotations

import json
import logging
import os

from dockyard.api.errors import Conflict, InvalidParameter, NoSuchContainer
from dockyard.daemon.paths import DaemonPaths
from dockyard.daemon.services.container_model import Container
from dockyard.daemon.services.events import EventBus
from dockyard.fsutil import write_json_atomic

log = logging.getLogger("dockyard.containers")


class ContainerRecords:
    def __init__(self, paths: DaemonPaths, events: EventBus) -> None:
        self.paths = paths
        self.events = events
        self.containers: dict[str, Container] = {}
        self.by_name: dict[str, str] = {}

    def get(self, ref: str) -> Container:
        if not ref:
            raise NoSuchContainer(ref)
        c = self.containers.get(ref)
        if c is not None:
            return c
        cid = self.by_name.get(ref if ref.startswith("/") else "/" + ref)
        if cid is not None:
            return self.containers[cid]
        matches = [c for cid, c in self.containers.items() if cid.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        raise NoSuchContainer(ref)

    def check_name_free(self, canonical: str, prefix: str = "") -> None:
        """Docker's conflict for a name in use (`prefix`: rename's "Error when ...")."""
        other = self.by_name.get(canonical)
        if other is not None:
            raise Conflict(
                f'{prefix}Conflict. The container name "{canonical}" is already in use by '
                f'container "{other}". You have to remove (or rename) that container to be '
                "able to reuse that name."
            )

    def add(self, c: Container) -> None:
        self.containers[c.id] = c
        self.by_name[c.name] = c.id

    def drop(self, c: Container) -> None:
        self.containers.pop(c.id, None)
        if self.by_name.get(c.name) == c.id:
            del self.by_name[c.name]

    def rename(self, c: Container, canonical: str) -> None:
        self.by_name[canonical] = c.id
        self.by_name.pop(c.name, None)
        c.name = canonical

    def save(self, c: Container, durable: bool = False) -> None:
        """The record on disk; durable (fsync'd) when created, not on each change
        of state (see fsutil)."""
        write_json_atomic(self.paths.container_record(c.id), c.record(), durable)

    def attrs(self, c: Container, **extra: str) -> dict[str, str]:
        """The attributes of a container's events: its labels, image and name."""
        attrs = {k: str(v) for k, v in (c.config.get("Labels") or {}).items()}
        attrs.update({"image": c.image, "name": c.name.lstrip("/")})
        attrs.update(extra)
        return attrs

    def publish(self, c: Container, action: str, **extra: str) -> None:
        self.events.publish("container", action, c.id, self.attrs(c, **extra))

    def load(self) -> None:
        """Every readable record under the containers root."""
        root = self.paths.containers_root
        for cid in sorted(os.listdir(root)):
            path = self.paths.container_record(cid)
            try:
                with open(path) as f:
                    c = Container.from_record(json.load(f))
            except (OSError, json.JSONDecodeError, KeyError):
                log.warning("skipping unreadable container record %s", path)
                continue
            self.add(c)

    def list(self, all: bool = False, limit: int | None = None) -> list[Container]:
        items = sorted(self.containers.values(), key=lambda c: c.created, reverse=True)
        if not all and not limit:
            items = [c for c in items if c.running]
        if limit and limit > 0:
            items = items[:limit]
        return items

    def images_in_use(self, image_id: str) -> list[str]:
        return [c.id for c in self.containers.values() if c.image_id == image_id]

    def images_running(self, image_id: str) -> list[str]:
        return [c.id for c in self.containers.values() if c.image_id == image_id and c.running]
