"""/services/{id}/logs and /tasks/{id}/logs: the logs of a service's task containers on
this node, each line prefixed with swarm's details (node, service and task ids), which
the docker CLI parses to print `<service>.<slot>.<task>@<node> | line`.

Tasks on other nodes: read from that node's TLS service (`cluster.tasklogs`), so
`docker service logs -f` follows every node.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from dockyard.api.errors import InvalidParameter, NotFound
from dockyard.cluster import tasklogs
from dockyard.daemon.server import hijack as hj
from dockyard.daemon.server.params import qbool, qint
from dockyard.daemon.services.containers import ContainerService
from dockyard.daemon.services.swarm import SwarmService
from dockyard.proto import stdcopy


def _details(task: dict[str, Any]) -> bytes:
    return (
        f"com.docker.swarm.node.id={task.get('NodeID', '')},"
        f"com.docker.swarm.service.id={task['ServiceID']},"
        f"com.docker.swarm.task.id={task['ID']} "
    ).encode()


async def _merged(
    streams: list[AsyncIterator[tuple[int, bytes]]],
) -> AsyncIterator[tuple[int, bytes]]:
    q: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue(256)

    async def pump(it: AsyncIterator[tuple[int, bytes]]) -> None:
        try:
            async for item in it:
                await q.put(item)
        finally:
            await q.put(None)

    pumps = [asyncio.create_task(pump(s)) for s in streams]
    try:
        left = len(pumps)
        while left:
            item = await q.get()
            if item is None:
                left -= 1
                continue
            yield item
    finally:
        for p in pumps:
            p.cancel()


async def _prefixed(
    frames: AsyncIterator[tuple[int, bytes]], prefix: bytes
) -> AsyncIterator[tuple[int, bytes]]:
    async for stream, data in frames:
        yield stream, prefix + data


def routes(swarm: SwarmService, containers: ContainerService) -> web.RouteTableDef:
    r = web.RouteTableDef()

    async def serve(request: web.Request, tasks: list[dict[str, Any]]) -> web.StreamResponse:
        stdout, stderr = qbool(request, "stdout"), qbool(request, "stderr")
        if not (stdout or stderr):
            raise InvalidParameter("Bad parameters: you must choose at least one stream")
        tail_raw = request.query.get("tail", "all")
        tail = None if tail_raw in ("all", "") else qint(request, "tail")
        details = qbool(request, "details")
        flags = {"stdout": stdout, "stderr": stderr, "follow": qbool(request, "follow"),
                 "timestamps": qbool(request, "timestamps"), "tail": tail}  # fmt: skip
        node = swarm.node
        streams = []
        for t in tasks:
            cid = tasklogs.container_of(t)
            try:
                c = containers.get(cid or "")
            except NotFound:
                if t.get("NodeID") and t["NodeID"] != node.node_id and node.objects is not None:
                    streams.append(_prefixed(
                        tasklogs.remote_logs(node.objects, node.tls, t, flags),
                        _details(t) if details else b""))  # fmt: skip
                continue  # removed, or on a node that is away

            async def tagged(
                c_id: str = c.id, prefix: bytes = _details(t)
            ) -> AsyncIterator[tuple[int, bytes]]:
                async for stream, data in containers.logs(
                    c_id, stdout=stdout, stderr=stderr, follow=qbool(request, "follow"),
                    timestamps=qbool(request, "timestamps"), tail=tail,
                ):  # fmt: skip
                    yield stream, (prefix + data) if details else data

            streams.append(tagged())
        resp = web.StreamResponse(status=200)
        resp.content_type = hj.MULTIPLEXED
        await resp.prepare(request)
        async for stream, data in _merged(streams):
            await resp.write(stdcopy.encode(stream, data))
        await resp.write_eof()
        return resp

    @r.get("/services/{id}/logs")
    async def service_logs(request: web.Request) -> web.StreamResponse:
        svc = await swarm.service(request.match_info["id"])
        return await serve(request, await swarm.tasks({"service": [svc["ID"]]}))

    @r.get("/tasks/{id}/logs")
    async def task_logs(request: web.Request) -> web.StreamResponse:
        return await serve(request, [await swarm.task(request.match_info["id"])])

    return r
