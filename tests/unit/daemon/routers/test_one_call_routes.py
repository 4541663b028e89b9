"""The routes whose work is one backend call (routers/handlers.py and the routers that
declare them: networks, nodes, services and tasks) over a fake backend: the id and
filters they pass, the status and body they answer, and the backend's errors in
Docker's shape."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web

from dockyard.api.errors import NotFound
from dockyard.daemon.routers import networks, swarm_nodes, swarm_services
from tests.unit.daemon.routers.fakes import Calls, ask

FILTERS = "filters=%7B%22name%22%3A%7B%22web%22%3Atrue%7D%7D"  # {"name":{"web":true}}


class Fake(Calls):
    """Stands for the networks and swarm services in these routes: every listing records
    its arguments and answers one object; every lookup and removal knows the id "known"
    only, and answers any other with the services' 404."""

    async def listed(self, *args: Any) -> list[dict[str, Any]]:
        self.record("list", *args)
        return [{"ID": "known"}]

    async def found(self, ref: str) -> dict[str, Any]:
        if ref != "known":
            raise NotFound(f"no such object: {ref}")
        return {"ID": ref}

    async def removed(self, ref: str) -> None:
        self.record("remove", (await self.found(ref))["ID"])

    async def prune(self, filters: dict[str, list[str]]) -> list[str]:
        return ["old"]

    list = nodes = services = tasks = listed
    inspect = inspect_node = service = task = found
    remove = remove_service = removed


def _run(table: web.RouteTableDef, *requests: tuple[str, str]) -> list:
    return asyncio.run(ask([table], [(m, p, b"") for m, p in requests]))


@pytest.mark.parametrize(
    ("routes", "kind"),
    [
        (networks.routes, "networks"),
        (swarm_nodes.routes, "nodes"),
        (swarm_services.routes, "tasks"),
    ],
)
def test_list_with_filters_and_inspect(routes: Any, kind: str) -> None:
    fake = Fake()
    listed, shown, missing, bad = _run(
        routes(fake),
        ("GET", f"/{kind}?{FILTERS}"),
        ("GET", f"/{kind}/known"),
        ("GET", f"/{kind}/nope"),
        ("GET", f"/{kind}?filters=%7Bnot-json"),
    )
    assert listed.status == 200 and json.loads(listed.body) == [{"ID": "known"}]
    assert fake.named("list") == [(({"name": ["web"]},), {})]
    assert shown.status == 200 and json.loads(shown.body) == {"ID": "known"}
    assert missing.status == 404 and missing.message == "no such object: nope"
    assert bad.status == 400 and len(fake.named("list")) == 1


def test_network_remove_and_prune() -> None:
    fake = Fake()
    removed, gone, pruned = _run(
        networks.routes(fake),  # type: ignore[arg-type]
        ("DELETE", "/networks/known"),
        ("DELETE", "/networks/nope"),
        ("POST", "/networks/prune"),
    )
    assert removed.status == 204 and removed.body == b""
    assert fake.named("remove") == [(("known",), {})]
    assert gone.status == 404 and gone.message == "no such object: nope"
    assert pruned.status == 200 and json.loads(pruned.body) == {"NetworksDeleted": ["old"]}


def test_services_list_inspect_and_remove() -> None:
    fake = Fake()
    listed, shown, missing, removed, gone = _run(
        swarm_services.routes(fake),  # type: ignore[arg-type]
        ("GET", "/services?status=true"),
        ("GET", "/services/known"),
        ("GET", "/services/nope"),
        ("DELETE", "/services/known"),
        ("DELETE", "/services/nope"),
    )
    assert listed.status == 200 and fake.named("list") == [(({}, True), {})]
    assert shown.status == 200 and json.loads(shown.body) == {"ID": "known"}
    assert missing.status == 404 and missing.message == "no such object: nope"
    # dockerd answers a service's removal with 200 (a network's, a secret's with 204)
    assert removed.status == 200 and removed.body == b""
    assert fake.named("remove") == [(("known",), {})]
    assert gone.status == 404 and gone.message == "no such object: nope"
