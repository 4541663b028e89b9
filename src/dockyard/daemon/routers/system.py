"""Routes of the system group: /_ping, /version, /info, /events."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import threading
import time
from typing import Any, Protocol

from aiohttp import web

from dockyard import __version__
from dockyard.api import version
from dockyard.api.eventfilters import event_matches
from dockyard.buildinfo import build_info
from dockyard.daemon.server.params import json_response, qfilters
from dockyard.daemon.services.events import EventBus


class SystemBackend(Protocol):
    def info(self) -> dict[str, Any]: ...


class SwarmStatus(Protocol):
    """This node's swarm membership as /_ping's Swarm header and /info's Swarm section."""

    def ping_state(self) -> str: ...

    async def info(self) -> dict[str, Any]: ...


def version_doc() -> dict[str, Any]:
    uname = os.uname()
    build = build_info()
    return {
        "Platform": {"Name": "Dockyard Engine"},
        "Components": [
            {
                "Name": "Engine",
                "Version": __version__,
                "Details": {
                    "ApiVersion": version.API_VERSION,
                    "MinAPIVersion": version.MIN_API_VERSION,
                    "Os": "linux",
                    "Arch": _arch(),
                    "KernelVersion": uname.release,
                    "GoVersion": "python" + platform.python_version(),
                    "GitCommit": build.git_commit,
                    "BuildTime": build.build_time,
                    "Experimental": "false",
                },
            }
        ],
        "Version": __version__,
        "ApiVersion": version.API_VERSION,
        "MinAPIVersion": version.MIN_API_VERSION,
        "GitCommit": build.git_commit,
        "GoVersion": "python" + platform.python_version(),
        "Os": "linux",
        "Arch": _arch(),
        "KernelVersion": uname.release,
        "BuildTime": build.build_time,
    }


def _arch() -> str:
    m = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


def _ts(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def routes(
    backend: SystemBackend, events: EventBus, swarm: SwarmStatus | None = None
) -> web.RouteTableDef:
    r = web.RouteTableDef()

    async def ping(request: web.Request) -> web.Response:
        resp = web.Response(text="OK" if request.method == "GET" else None)
        resp.headers["Cache-Control"] = "no-cache, no-store, must-revalidate"
        resp.headers["Pragma"] = "no-cache"
        resp.headers["Builder-Version"] = "1"
        resp.headers["Swarm"] = swarm.ping_state() if swarm else "inactive"
        return resp

    r.get("/_ping", allow_head=False)(ping)
    r.head("/_ping")(ping)

    @r.get("/version")
    async def get_version(request: web.Request) -> web.Response:
        return json_response(version_doc())

    @r.get("/info")
    async def info(request: web.Request) -> web.Response:
        doc = backend.info()
        doc["NEventsListener"] = events.listeners
        # dockerd counts its goroutines; our concurrent units are threads and tasks
        doc["NGoroutines"] = threading.active_count() + len(asyncio.all_tasks())
        if swarm is not None:
            doc["Swarm"] = await swarm.info()
        return json_response(doc)

    @r.get("/events")
    async def get_events(request: web.Request) -> web.StreamResponse:
        filters = qfilters(request)
        since = _ts(request.query.get("since"))
        until = _ts(request.query.get("until"))
        q = events.subscribe()
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/json"
        await resp.prepare(request)
        try:
            if since is not None:
                for ev in events.since(int(since * 1e9)):
                    if until is not None and ev.time_nano > until * 1e9:
                        break
                    if event_matches(ev, filters):
                        await resp.write(json.dumps(ev.to_api()).encode() + b"\n")
            while True:
                timeout = None if until is None else max(0.0, until - time.time())
                if timeout == 0.0:
                    break
                try:
                    ev = await asyncio.wait_for(q.get(), timeout)
                except TimeoutError:
                    break
                if event_matches(ev, filters):
                    await resp.write(json.dumps(ev.to_api()).encode() + b"\n")
        finally:
            events.unsubscribe(q)
        await resp.write_eof()
        return resp

    return r
