"""The commit router: `POST /commit` (docker commit) over a narrow backend."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from dockyard.api.backend import CommitConfig
from dockyard.api.models.container import ContainerCommit
from dockyard.daemon.server.params import json_response, model_body, qbool


class CommitBackend(Protocol):
    async def commit(self, req: CommitConfig) -> str: ...


def routes(backend: CommitBackend) -> web.RouteTableDef:
    r = web.RouteTableDef()

    @r.post("/commit")
    async def commit(request: web.Request) -> web.Response:
        q = request.query
        body = await model_body(request, ContainerCommit, None)
        image_id = await backend.commit(
            CommitConfig(
                q.get("container", ""),
                repo=q.get("repo", ""),
                tag=q.get("tag", ""),
                comment=q.get("comment", ""),
                author=q.get("author", ""),
                # dockerd: an empty pause= pauses too (the default since API 1.13)
                pause=qbool(request, "pause", True) or request.query.get("pause") == "",
                changes=q.getall("changes", []),
                config=body,
            )
        )
        return json_response({"Id": image_id}, status=201)

    return r
