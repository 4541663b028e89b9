"""Routes of /containers: the wire shapes of the Engine API over the container service.

The router turns requests into calls and answers into the wire; every rule (the life
cycle, list filters, the documents) lives in the services behind the two Backend
protocols it declares, so that it can be tested with fakes (tests/unit/daemon/routers/).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

from aiohttp import web

from dockyard.api import versions
from dockyard.api.errors import InvalidParameter
from dockyard.api.models.container import UpdateConfig, create_config
from dockyard.api.timefilters import unix_time
from dockyard.daemon.routers.handlers import by_id, doc_by_filters
from dockyard.daemon.routers.streaming import stream_lazily
from dockyard.daemon.server import hijack as hj
from dockyard.daemon.server.app import API_VERSION_KEY
from dockyard.daemon.server.params import json_response, model_body, qbool, qfilters, qint
from dockyard.daemon.services.container_model import Container
from dockyard.daemon.services.outputs import Subscription
from dockyard.proto import detachkeys, stdcopy


class ContainerBackend(Protocol):
    """What the /containers routes need of the container service."""

    def get(self, ref: str) -> Container: ...

    def create(self, name: str | None, body: dict[str, Any]) -> tuple[str, list[str]]: ...

    async def start(self, ref: str) -> None: ...

    async def stop(self, ref: str, timeout: int | None = None, sig: str | None = None) -> None: ...

    async def restart(self, ref: str, timeout: int | None = None) -> None: ...

    async def kill(self, ref: str, sig: str | int | None = None) -> None: ...

    async def wait(self, ref: str, condition: str = "not-running") -> dict[str, Any]: ...

    async def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]: ...

    async def update(self, ref: str, body: dict[str, Any]) -> list[str]: ...

    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None: ...

    def logs(
        self, ref: str, *, stdout: bool, stderr: bool, follow: bool = False, since: float = 0,
        until: float = 0, timestamps: bool = False, tail: int | None = None,
    ) -> AsyncIterator[tuple[int, bytes]]: ...  # fmt: skip

    def subscribe(self, c: Container) -> Subscription: ...

    def unsubscribe(self, c: Container, q: Subscription) -> None: ...

    async def send_stdin(self, c: Container, data: bytes) -> None: ...

    async def close_stdin(self, c: Container) -> None: ...

    def publish(self, c: Container, action: str, **extra: str) -> None: ...


class ViewBackend(Protocol):
    """The API's views of containers (`services/container_views.py`)."""

    async def list_summaries(
        self, filters: dict[str, list[str]], all: bool, limit: int | None, size: bool
    ) -> list[dict[str, Any]]: ...

    async def inspect(self, ref: str, size: bool = False) -> dict[str, Any]: ...

    def remove_link(self, name: str) -> None: ...


def _since(value: str | None) -> float:
    """Docker's `since`/`until`: a timetypes value in unix seconds, or 0 when absent."""
    return unix_time(value) if value else 0


def routes(svc: ContainerBackend, views: ViewBackend) -> web.RouteTableDef:
    r = web.RouteTableDef()

    @r.get("/containers/json")
    async def list_containers(request: web.Request) -> web.Response:
        docs = await views.list_summaries(
            qfilters(request), qbool(request, "all"), qint(request, "limit"), qbool(request, "size")
        )
        return json_response(docs)

    @r.post("/containers/create")
    async def create(request: web.Request) -> web.Response:
        raw = await request.read()
        body = create_config(raw, versions.hoist_host_config)
        body = versions.read_create_body(request[API_VERSION_KEY], body)
        cid, warnings = svc.create(request.query.get("name") or None, body)
        return json_response({"Id": cid, "Warnings": warnings}, status=201)

    @r.get("/containers/{id}/json")
    async def inspect_container(request: web.Request) -> web.Response:
        return json_response(await views.inspect(request.match_info["id"], qbool(request, "size")))

    r.post("/containers/{id}/start")(by_id(svc.start, status=204))

    @r.post("/containers/{id}/stop")
    async def stop(request: web.Request) -> web.Response:
        await svc.stop(request.match_info["id"], qint(request, "t"), request.query.get("signal"))
        return web.Response(status=204)

    @r.post("/containers/{id}/restart")
    async def restart(request: web.Request) -> web.Response:
        await svc.restart(request.match_info["id"], qint(request, "t"))
        return web.Response(status=204)

    @r.post("/containers/{id}/kill")
    async def kill(request: web.Request) -> web.Response:
        await svc.kill(request.match_info["id"], request.query.get("signal"))
        return web.Response(status=204)

    @r.post("/containers/{id}/wait")
    async def wait(request: web.Request) -> web.StreamResponse:
        c = svc.get(request.match_info["id"])
        condition = request.query.get("condition") or "not-running"
        waiting = asyncio.ensure_future(svc.wait(c.id, condition))
        await asyncio.sleep(0)
        if waiting.done():
            return json_response(waiting.result())
        # Headers go out at once (as dockerd does): clients start the container
        # only once the wait is registered.
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/json"
        await resp.prepare(request)
        try:
            result = await waiting
        finally:
            waiting.cancel()
        await resp.write(json.dumps(result).encode() + b"\n")
        await resp.write_eof()
        return resp

    r.post("/containers/prune")(doc_by_filters(svc.prune))

    @r.post("/containers/{id}/update")
    async def update(request: web.Request) -> web.Response:
        body = await model_body(request, UpdateConfig, {})
        warnings = await svc.update(request.match_info["id"], body)
        return json_response({"Warnings": warnings})

    @r.delete("/containers/{id}")
    async def remove(request: web.Request) -> web.Response:
        if qbool(request, "link"):  # `docker rm --link NAME`: only /parent/alias is a link
            views.remove_link(request.match_info["id"])
            return web.Response(status=204)
        await svc.remove(
            request.match_info["id"], force=qbool(request, "force"), volumes=qbool(request, "v")
        )
        return web.Response(status=204)

    @r.delete("/containers/{id}/{alias}")
    async def remove_link(request: web.Request) -> web.Response:
        if not qbool(request, "link"):
            raise web.HTTPNotFound()
        views.remove_link(f"{request.match_info['id']}/{request.match_info['alias']}")
        return web.Response(status=204)

    @r.get("/containers/{id}/logs")
    async def logs(request: web.Request) -> web.StreamResponse:
        c = svc.get(request.match_info["id"])
        stdout, stderr = qbool(request, "stdout"), qbool(request, "stderr")
        if not (stdout or stderr):
            raise InvalidParameter("Bad parameters: you must choose at least one stream")
        tail_raw = request.query.get("tail", "all")
        tail = None if tail_raw in ("all", "") else qint(request, "tail")
        entries = svc.logs(
            c.id,
            stdout=stdout,
            stderr=stderr,
            follow=qbool(request, "follow"),
            since=_since(request.query.get("since")),
            until=_since(request.query.get("until")),
            timestamps=qbool(request, "timestamps"),
            tail=tail,
        )
        tty = bool(c.config.get("Tty"))
        resp = web.StreamResponse(status=200)
        resp.content_type = hj.RAW if tty else hj.MULTIPLEXED
        frames = (data if tty else stdcopy.encode(stream, data) async for stream, data in entries)
        return await stream_lazily(request, resp, frames)

    @r.post("/containers/{id}/attach")
    async def attach(request: web.Request) -> web.StreamResponse:
        c = svc.get(request.match_info["id"])
        want_stdin = qbool(request, "stdin")
        want = set()
        if qbool(request, "stdout"):
            want.add(stdcopy.STDOUT)
        if qbool(request, "stderr"):
            want.add(stdcopy.STDERR)
        tty = bool(c.config.get("Tty"))
        keys = _detach_keys(request.query.get("detachKeys"))  # refused before the hijack
        q = svc.subscribe(c)
        stream = await hj.hijack(request, hj.RAW if tty else hj.MULTIPLEXED)
        svc.publish(c, "attach")
        pump_in = None
        if want_stdin and c.config.get("OpenStdin"):
            # As dockerd: detach keys are scanned only with a TTY; without one,
            # stdin is binary data passed byte for byte (0x10 0x11 included).
            pump_in = asyncio.create_task(_pump_stdin(svc, c, stream, keys if tty else None, q))
        async with hj.exchange(stream, pump_in, lambda: svc.unsubscribe(c, q)):
            if qbool(request, "logs"):
                async for s, data in svc.logs(
                    c.id, stdout=stdcopy.STDOUT in want, stderr=stdcopy.STDERR in want
                ):
                    await stream.write(data if tty else stdcopy.encode(s, data))
            if qbool(request, "stream", True) and (c.running or c.state["Status"] == "created"):
                await hj.relay(stream, q, want, tty)
        return stream.response

    @r.get("/containers/{id}/attach/ws")
    async def attach_ws(request: web.Request) -> web.WebSocketResponse:
        """Attach over a WebSocket: output as binary messages (never multiplexed, as
        Docker does), input from the client's messages."""
        c = svc.get(request.match_info["id"])
        want = {s for s, q in ((stdcopy.STDOUT, "stdout"), (stdcopy.STDERR, "stderr"))
                if qbool(request, q)}  # fmt: skip
        q = svc.subscribe(c)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        svc.publish(c, "attach")

        async def pump_in() -> None:
            await c.live.linked.wait()
            async for msg in ws:
                if msg.type in (web.WSMsgType.BINARY, web.WSMsgType.TEXT):
                    data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
                    await svc.send_stdin(c, data)

        reader = None
        if qbool(request, "stdin") and c.config.get("OpenStdin"):
            reader = asyncio.create_task(pump_in())
        try:
            if qbool(request, "logs"):
                async for _stream, data in svc.logs(
                    c.id, stdout=stdcopy.STDOUT in want, stderr=stdcopy.STDERR in want
                ):
                    await ws.send_bytes(data)
            if qbool(request, "stream", True) and (c.running or c.state["Status"] == "created"):
                while (frame := await q.get()) is not None:
                    if frame.stream in want:
                        await ws.send_bytes(frame.data)
        except ConnectionError:
            pass
        finally:
            svc.unsubscribe(c, q)
            if reader is not None:
                reader.cancel()
            await ws.close()
        return ws

    return r


def _detach_keys(spec: str | None) -> bytes:
    try:
        return detachkeys.parse(spec or detachkeys.DEFAULT)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None


async def _pump_stdin(
    svc: ContainerBackend,
    c: Container,
    stream: hj.HijackedStream,
    keys: bytes | None,
    output: Subscription,
) -> None:
    # Input may come before `start`: hold it until the monitor link is up.
    await c.live.linked.wait()
    scanner = detachkeys.Scanner(keys) if keys else None
    if await hj.pump_input(stream, scanner, lambda data: svc.send_stdin(c, data)):
        output.put_nowait(None)  # the detach keys end this attach; stdin stays open
        return
    # dockerd: CloseStdin = StdinOnce && !Tty
    if c.config.get("StdinOnce") and not c.config.get("Tty"):
        await svc.close_stdin(c)
