"""A task's logs from whichever node runs it: every node serves its own tasks' logs on
its TLS service (swarm port + 2, `security.join.JoinService`) to managers only (the
caller's certificate names a node the store says is a manager), as Docker's multiplexed
frames; a manager's `service logs` reads them from there for tasks not on itself. Each
node records where it serves under `agents/<node id>`."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from dockyard.cluster.agent.protocol import TaskContainers
from dockyard.cluster.model.repo import ClusterObjects
from dockyard.cluster.security import pki
from dockyard.proto import stdcopy


def container_of(task: dict[str, Any]) -> str:
    return str(((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID") or "")


def _flags(query: Any) -> dict[str, Any]:
    tail = query.get("tail", "all")
    return {"stdout": query.get("stdout") == "1", "stderr": query.get("stderr") == "1",
            "follow": query.get("follow") == "1", "timestamps": query.get("timestamps") == "1",
            "tail": None if tail in ("all", "") else int(tail)}  # fmt: skip


def handler(objs: ClusterObjects, containers: TaskContainers, node_id: str):  # type: ignore[no-untyped-def]
    """GET /tasks/{id}/logs for JoinService's authenticated routes."""

    async def logs(caller: str, request: web.Request) -> web.StreamResponse:
        try:
            asker = await objs.get("nodes", caller)
            task = await objs.get("tasks", request.match_info["id"])
        except Exception:
            return web.json_response({"message": "no such task"}, status=404)
        if asker["Spec"].get("Role") != "manager":
            return web.json_response({"message": "managers only"}, status=403)
        cid = container_of(task)
        if task.get("NodeID") != node_id or not cid:
            return web.json_response({"message": "not a task of this node"}, status=404)
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/vnd.docker.multiplexed-stream"
        await resp.prepare(request)
        async for stream, data in containers.logs(cid, **_flags(request.query)):
            await resp.write(stdcopy.encode(stream, data))
        await resp.write_eof()
        return resp

    return logs


async def remote_logs(objs: ClusterObjects, tls: pki.NodeTLS, task: dict[str, Any],
                      flags: dict[str, Any]) -> AsyncIterator[tuple[int, bytes]]:  # fmt: skip
    """The frames of a task's logs from the node that runs it (nothing if it is away)."""
    kv = await objs.store.get(objs.key("agents", str(task.get("NodeID") or "")))
    if kv is None:
        return
    ctx = ssl.create_default_context(cafile=tls.ca)
    ctx.load_cert_chain(tls.cert, tls.key)
    params = {k: ("1" if v else "0") if isinstance(v, bool) else str(v)
              for k, v in flags.items() if v is not None}  # fmt: skip
    url = f"https://{kv.value.decode()}/tasks/{task['ID']}/logs"
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async with http.get(url, params=params, ssl=ctx) as resp:
                if resp.status != 200:
                    return
                frames = stdcopy.FrameDecoder()
                async for chunk in resp.content.iter_any():
                    frames.feed(chunk)
                    for f in frames:
                        yield f.stream, f.data
    except (aiohttp.ClientError, OSError, TimeoutError):
        return  # the node went away: its lines stop, as with dockerd
