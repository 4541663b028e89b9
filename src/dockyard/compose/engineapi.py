"""The Engine API calls compose makes, as blocking methods over `dockyard.client`.

One place that knows paths, query parameters and the project's label filters;
`converge` and `ops` run these in threads (`parallel`) so independent
services proceed in parallel while the client stays the simple, synchronous one.
"""

from __future__ import annotations

import contextlib
import json

from dockyard.client.errors import APIError
from dockyard.client.http import quote
from dockyard.compose import labels

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from dockyard.client.api import Client


@contextlib.contextmanager
def _tolerating(*statuses: int) -> Iterator[None]:
    """An answer with one of these statuses is what the caller wanted anyway (gone
    already, not modified, in use elsewhere): not an error."""
    try:
        yield
    except APIError as e:
        if e.status not in statuses:
            raise


class EngineAPI:
    def __init__(self, client: Client) -> None:
        self.client = client

    def _find(self, path: str) -> dict[str, Any] | None:
        """The object at `path`, None when there is none (404)."""
        try:
            return self.client.get(path)
        except APIError as e:
            if e.status == 404:
                return None
            raise

    # -- containers --------------------------------------------------------
    def containers(
        self, project: str | None, all: bool = True, oneoff: bool | None = False, **extra: str
    ) -> list[dict[str, Any]]:
        """The project's containers (`project=None`: every compose container)."""
        label = [f"{labels.PROJECT}={project}"] if project else [labels.PROJECT]
        if oneoff is not None:
            label.append(f"{labels.ONEOFF}={'True' if oneoff else 'False'}")
        label += [f"{labels.PREFIX}{k}={v}" for k, v in extra.items()]
        filters = json.dumps({"label": label})
        return self.client.get("/containers/json", {"all": all, "filters": filters}) or []

    def inspect(self, ref: str) -> dict[str, Any]:
        return self.client.get(f"/containers/{quote(ref)}/json")

    def create(self, name: str, body: dict[str, Any]) -> str:
        return self.client.post("/containers/create", {"name": name}, body)["Id"]

    def start(self, ref: str) -> None:
        with _tolerating(304):
            self.client.post(f"/containers/{quote(ref)}/start")

    def stop(self, ref: str, timeout: int | None = None) -> None:
        with _tolerating(304, 404):
            self.client.post(f"/containers/{quote(ref)}/stop", {"t": timeout})

    def restart(self, ref: str, timeout: int | None = None) -> None:
        self.client.post(f"/containers/{quote(ref)}/restart", {"t": timeout})

    def kill(self, ref: str, signal: str | None = None) -> None:
        self.client.post(f"/containers/{quote(ref)}/kill", {"signal": signal})

    def pause(self, ref: str) -> None:
        self.client.post(f"/containers/{quote(ref)}/pause")

    def unpause(self, ref: str) -> None:
        self.client.post(f"/containers/{quote(ref)}/unpause")

    def remove(self, ref: str, volumes: bool = False, force: bool = False) -> None:
        with _tolerating(404):
            self.client.delete(f"/containers/{quote(ref)}", {"v": volumes, "force": force})

    def rename(self, ref: str, name: str) -> None:
        self.client.post(f"/containers/{quote(ref)}/rename", {"name": name})

    def wait(self, ref: str, condition: str | None = None) -> int:
        res = self.client.post(f"/containers/{quote(ref)}/wait", {"condition": condition})
        return int((res or {}).get("StatusCode", 0))

    def put_archive(self, ref: str, path: str, tar: bytes, copy_uid_gid: bool = False) -> None:
        params = {"path": path, "copyUIDGID": "true" if copy_uid_gid else None}
        resp = self.client.request("PUT", f"/containers/{quote(ref)}/archive", params, tar,
                                   {"Content-Type": "application/x-tar"})  # fmt: skip
        try:
            resp.read()
        finally:
            resp.close()

    def top(self, ref: str) -> dict[str, Any]:
        return self.client.get(f"/containers/{quote(ref)}/top")

    def logs(self, ref: str, params: dict[str, Any]) -> Iterator[bytes]:
        resp = self.client.request("GET", f"/containers/{quote(ref)}/logs", params)
        try:
            yield from resp.iter_body()
        finally:
            resp.close()

    # -- networks and volumes ------------------------------------------------
    def network(self, name: str) -> dict[str, Any] | None:
        return self._find(f"/networks/{quote(name)}")

    def networks(self, project: str) -> list[dict[str, Any]]:
        filters = json.dumps({"label": [f"{labels.PROJECT}={project}"]})
        return self.client.get("/networks", {"filters": filters}) or []

    def create_network(self, body: dict[str, Any]) -> str:
        return self.client.post("/networks/create", None, body)["Id"]

    def connect(self, network: str, container: str, endpoint: dict[str, Any]) -> None:
        body = {"Container": container, "EndpointConfig": endpoint}
        self.client.post(f"/networks/{quote(network)}/connect", None, body)

    def remove_network(self, name: str) -> None:
        with _tolerating(404):
            self.client.delete(f"/networks/{quote(name)}")

    def volume(self, name: str) -> dict[str, Any] | None:
        return self._find(f"/volumes/{quote(name)}")

    def create_volume(self, body: dict[str, Any]) -> None:
        self.client.post("/volumes/create", None, body)

    def remove_volume(self, name: str) -> None:
        with _tolerating(404):
            self.client.delete(f"/volumes/{quote(name)}")

    # -- images --------------------------------------------------------------
    def image(self, ref: str) -> dict[str, Any] | None:
        return self._find(f"/images/{quote(ref, safe='/:@')}/json")

    def remove_image(self, ref: str) -> None:
        with _tolerating(404, 409):
            self.client.delete(f"/images/{quote(ref, safe='/:@')}")
