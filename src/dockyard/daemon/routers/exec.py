"""Routes of exec instances: POST /containers/{id}/exec, /exec/{id}/start|resize,
GET /exec/{id}/json. Wire shapes only, over the Backend it declares; the exec
service owns the rules."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from aiohttp import web

from dockyard.api.errors import DockyardError, InvalidParameter
from dockyard.api.models.exec import ExecConfig, ExecStartCheck
from dockyard.daemon.server import hijack as hj
from dockyard.daemon.server.params import json_response, model_body, qint
from dockyard.daemon.services.exec import Exec
from dockyard.daemon.services.outputs import Subscription
from dockyard.proto import detachkeys, stdcopy


class ExecBackend(Protocol):
    """What the exec routes need of the exec service."""

    def create(self, ref: str, body: dict[str, Any]) -> str: ...

    def get(self, exec_id: str) -> Exec: ...

    def resize(self, exec_id: str, h: int, w: int) -> None: ...

    async def start(self, exec_id: str) -> Exec: ...

    def subscribe(self, e: Exec) -> Subscription: ...

    def unsubscribe(self, e: Exec, q: Subscription) -> None: ...

    async def send_stdin(self, e: Exec, data: bytes) -> None: ...

    async def close_stdin(self, e: Exec) -> None: ...


def routes(svc: ExecBackend) -> web.RouteTableDef:
    r = web.RouteTableDef()

    @r.post("/containers/{id}/exec")
    async def create(request: web.Request) -> web.Response:
        body = await model_body(request, ExecConfig, {})
        if body.get("DetachKeys"):
            try:
                detachkeys.parse(body["DetachKeys"])
            except ValueError as exc:
                raise InvalidParameter(str(exc)) from None
        eid = svc.create(request.match_info["id"], body)
        return json_response({"Id": eid}, status=201)

    @r.get("/exec/{id}/json")
    async def inspect(request: web.Request) -> web.Response:
        return json_response(svc.get(request.match_info["id"]).inspect())

    @r.post("/exec/{id}/resize")
    async def resize(request: web.Request) -> web.Response:
        h, w = qint(request, "h", 0) or 0, qint(request, "w", 0) or 0
        svc.resize(request.match_info["id"], h, w)
        return web.Response(status=200)

    @r.post("/exec/{id}/start")
    async def start(request: web.Request) -> web.StreamResponse:
        e = svc.get(request.match_info["id"])
        body = await model_body(request, ExecStartCheck, {})
        if body.get("ConsoleSize"):
            e.config["ConsoleSize"] = body["ConsoleSize"]
        if body.get("Detach"):
            await svc.start(e.id)
            return web.Response(status=200)
        if e.running or e.started:
            await svc.start(e.id)  # raises Docker's conflict
        # As dockerd: the stream is raw only when the start request says Tty: true,
        # whatever the exec was created with (the process's TTY is the create's).
        tty = bool(body.get("Tty"))
        q = svc.subscribe(e)
        stream = await hj.hijack(request, hj.RAW if tty else hj.MULTIPLEXED)
        pump_in = None
        if e.config.get("AttachStdin"):
            pump_in = asyncio.create_task(_pump_stdin(svc, e, stream, q))
        async with hj.exchange(stream, pump_in, lambda: svc.unsubscribe(e, q)):
            try:
                await svc.start(e.id)
            except DockyardError as exc:
                text = exc.message.encode() + b"\r\n"
                await stream.write(text if tty else stdcopy.encode(stdcopy.STDOUT, text))
                return stream.response
            want = {stdcopy.STDOUT} if e.config.get("AttachStdout") else set()
            if e.config.get("AttachStderr"):
                want.add(stdcopy.STDERR)
            await hj.relay(stream, q, want, tty)
        return stream.response

    return r


async def _pump_stdin(
    svc: ExecBackend,
    e: Exec,
    stream: hj.HijackedStream,
    output: Subscription,
) -> None:
    await e.linked.wait()
    # As dockerd: the detach keys are scanned only when the exec has a TTY; without
    # one, stdin is binary data passed byte for byte (0x10 0x11 included).
    scanner = None
    if e.tty:
        keys = e.config.get("DetachKeys") or detachkeys.DEFAULT
        scanner = detachkeys.Scanner(detachkeys.parse(keys))
    if await hj.pump_input(stream, scanner, lambda data: svc.send_stdin(e, data)):
        output.put_nowait(None)  # the exec goes on; this stream ends
        return
    await svc.close_stdin(e)
