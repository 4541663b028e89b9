"""Routes of /containers: the wire shapes of the Engine API over the container service.

The router turns requests into calls and containers into ContainerSummary /
ContainerJSON documents; every rule of the life cycle lives in the service.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from dockyard.api import versions
from dockyard.api.errors import InvalidParameter
from dockyard.api.filters import labels_match, match
from dockyard.api.models.container import UpdateConfig, create_config
from dockyard.api.timefilters import unix_time
from dockyard.daemon.server import hijack as hj
from dockyard.daemon.server.app import API_VERSION_KEY
from dockyard.daemon.server.params import json_response, model_body, qbool, qfilters, qint
from dockyard.daemon.services.container_model import Container, status_text
from dockyard.daemon.services.containers import ContainerService
from dockyard.daemon.services.disk_usage import container_sizes
from dockyard.daemon.services.outputs import Subscription
from dockyard.monitor import jsonlog
from dockyard.proto import detachkeys, stdcopy


def _command(c: Container) -> str:
    """As dockerd's list: the path, then the args, those with a space single-quoted."""
    args = [f"'{a}'" if " " in a else a for a in c.args]
    return " ".join([c.path, *args]) if args else c.path


def _created_unix(c: Container) -> int:
    return jsonlog.parse_rfc3339_nano(c.created) // 1_000_000_000


def _network_settings(c: Container, svc: ContainerService) -> dict[str, Any]:
    """NetworkSettings from the network layer when it has a view (else empty)."""
    settings = getattr(svc.network, "settings", None)
    if settings is not None:
        return settings(c)
    return {"Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {}, "Networks": {}}


def _mount_points(c: Container, svc: ContainerService) -> list[dict[str, Any]]:
    mount_points = getattr(svc.volumes, "mount_points", None)
    return mount_points(c) if mount_points is not None else []


def _on_networks_and_volumes(svc: ContainerService, c: Container, f: dict[str, Any]) -> bool:
    """The `network` (name or id) and `volume` (name or mount destination) filters."""
    if f.get("network"):
        nets = _network_settings(c, svc)["Networks"]
        ids = set(nets) | {n.get("NetworkID", "") for n in nets.values()}
        if not any(v in ids or any(i.startswith(v) for i in ids if i) for v in f["network"]):
            return False
    if f.get("volume"):
        mounts = _mount_points(c, svc)
        names = {m.get("Name") for m in mounts} | {m.get("Destination") for m in mounts}
        names |= {m.get("Source") for m in mounts if m.get("Type") == "bind"}
        if not any(v in names for v in f["volume"]):
            return False
    return True


def summary(c: Container, now: float, svc: ContainerService | None = None) -> dict[str, Any]:
    if svc is not None:
        ns = _network_settings(c, svc)
        ps_ports = getattr(svc.network, "ps_ports", None)
        return {
            **summary(c, now),
            "Ports": ps_ports(c, ns) if ps_ports is not None else [],
            "NetworkSettings": {"Networks": ns["Networks"]},
            "Mounts": _mount_points(c, svc),
        }
    return {
        "Id": c.id,
        "Names": [c.name],
        "Image": c.image,
        "ImageID": c.image_id,
        "Command": _command(c),
        "Created": _created_unix(c),
        "Ports": [],
        "Labels": c.config.get("Labels") or {},
        "State": c.state.get("Status"),
        "Status": status_text(c.state, now),
        "HostConfig": {"NetworkMode": c.host_config.get("NetworkMode", "default")},
        "NetworkSettings": {"Networks": {}},
        "Mounts": [],
    }


def inspect(c: Container, svc: ContainerService) -> dict[str, Any]:
    p = svc.paths
    state = dict(c.state)
    return {
        "Id": c.id,
        "Created": c.created,
        "Path": c.path,
        "Args": c.args,
        "State": state,
        "Image": c.image_id,
        "ResolvConfPath": p.etc_file(c.id, "resolv.conf"),
        "HostnamePath": p.etc_file(c.id, "hostname"),
        "HostsPath": p.etc_file(c.id, "hosts"),
        "LogPath": p.log(c.id),
        "Name": c.name,
        "RestartCount": c.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": c.host_config,
        "GraphDriver": {"Name": "overlay2", "Data": None},
        "Mounts": _mount_points(c, svc),
        "Config": c.config,
        "NetworkSettings": _network_settings(c, svc),
    }


def _matches(c: Container, filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key == "id" and not match(values, c.id):
            return False
        if key == "name" and not match(values, c.name, c.name.lstrip("/")):
            return False
        if key == "status" and c.state.get("Status") not in values:
            return False
        if key == "exited":
            if c.state.get("Status") != "exited":
                return False
            if str(c.state.get("ExitCode")) not in values:
                return False
        if key in ("label", "label!") and not labels_match(
            c.config.get("Labels") or {}, {key: values}
        ):
            return False
        if key == "ancestor" and not any(v in (c.image, c.image_id) for v in values):
            return False
        if key == "health":
            status = (c.state.get("Health") or {}).get("Status", "none")
            if status not in values:
                return False
        if key == "is-task" and "true" in values:
            return False
    return True


def _relative(
    svc: ContainerService, items: list[Container], filters: dict[str, list[str]]
) -> list[Container]:
    """`before` / `since`: containers created before / after the named one."""
    for key in ("before", "since"):
        for ref in filters.get(key, []):
            pivot = svc.get(ref)
            if key == "before":
                items = [c for c in items if c.created < pivot.created]
            else:
                items = [c for c in items if c.created > pivot.created]
    return items


def _since(value: str | None) -> float:
    """Docker's `since`/`until`: a timetypes value in unix seconds, or 0 when absent."""
    return unix_time(value) if value else 0


async def _with_sizes(svc: ContainerService, pairs: list[tuple[Container, dict[str, Any]]]) -> None:
    """`?size=1`: SizeRw and SizeRootFs, walked in a thread (a writable layer can be big)."""

    def walk() -> None:
        for c, doc in pairs:
            doc["SizeRw"], doc["SizeRootFs"] = container_sizes(svc.images, c)

    await asyncio.to_thread(walk)


def routes(svc: ContainerService) -> web.RouteTableDef:
    r = web.RouteTableDef()

    @r.get("/containers/json")
    async def list_containers(request: web.Request) -> web.Response:
        filters = qfilters(request)
        show_all = qbool(request, "all") or bool(filters.get("status"))
        now = time.time()
        chosen = [
            c
            for c in svc.list(all=True, limit=None)
            if _matches(c, filters) and (show_all or c.running or qint(request, "limit"))
        ]
        chosen = _relative(svc, chosen, filters)
        chosen = [c for c in chosen if _on_networks_and_volumes(svc, c, filters)]
        limit = qint(request, "limit")
        if limit and limit > 0:
            chosen = chosen[:limit]
        docs = [summary(c, now, svc) for c in chosen]
        if qbool(request, "size"):
            await _with_sizes(svc, list(zip(chosen, docs, strict=True)))
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
        c = svc.get(request.match_info["id"])
        doc = inspect(c, svc)
        if qbool(request, "size"):
            await _with_sizes(svc, [(c, doc)])
        return json_response(doc)

    @r.post("/containers/{id}/start")
    async def start(request: web.Request) -> web.Response:
        await svc.start(request.match_info["id"])
        return web.Response(status=204)

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

    @r.post("/containers/prune")
    async def prune(request: web.Request) -> web.Response:
        return json_response(await svc.prune(qfilters(request)))

    @r.post("/containers/{id}/update")
    async def update(request: web.Request) -> web.Response:
        body = await model_body(request, UpdateConfig, {})
        warnings = await svc.update(request.match_info["id"], body)
        return json_response({"Warnings": warnings})

    @r.delete("/containers/{id}")
    async def remove(request: web.Request) -> web.Response:
        if qbool(request, "link"):  # `docker rm --link NAME`: only /parent/alias is a link
            _remove_link(svc, request.match_info["id"])
            return web.Response(status=204)
        await svc.remove(
            request.match_info["id"], force=qbool(request, "force"), volumes=qbool(request, "v")
        )
        return web.Response(status=204)

    @r.delete("/containers/{id}/{alias}")
    async def remove_link(request: web.Request) -> web.Response:
        if not qbool(request, "link"):
            raise web.HTTPNotFound()
        _remove_link(svc, f"{request.match_info['id']}/{request.match_info['alias']}")
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
        first = True
        async for stream, data in entries:
            if first:
                await resp.prepare(request)
                first = False
            await resp.write(data if tty else stdcopy.encode(stream, data))
        if first:
            await resp.prepare(request)
        await resp.write_eof()
        return resp

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
        svc.events.publish("container", "attach", c.id, svc.attrs(c))
        pump_in = None
        if want_stdin and c.config.get("OpenStdin"):
            # As dockerd: detach keys are scanned only with a TTY; without one,
            # stdin is binary data passed byte for byte (0x10 0x11 included).
            pump_in = asyncio.create_task(_pump_stdin(svc, c, stream, keys if tty else None, q))
        try:
            if qbool(request, "logs"):
                async for s, data in svc.logs(
                    c.id, stdout=stdcopy.STDOUT in want, stderr=stdcopy.STDERR in want
                ):
                    await stream.write(data if tty else stdcopy.encode(s, data))
            if qbool(request, "stream", True) and (c.running or c.state["Status"] == "created"):
                await hj.relay(stream, q, want, tty)
        except ConnectionError:
            pass
        finally:
            svc.unsubscribe(c, q)
            await hj.close(stream, pump_in)
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
        svc.events.publish("container", "attach", c.id, svc.attrs(c))

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


def _remove_link(svc: ContainerService, name: str) -> None:
    remove = getattr(svc.network, "remove_link", None)
    if remove is None:
        raise InvalidParameter("legacy links are not supported")
    remove(name)


def _detach_keys(spec: str | None) -> bytes:
    try:
        return detachkeys.parse(spec or detachkeys.DEFAULT)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None


async def _pump_stdin(
    svc: ContainerService,
    c: Container,
    stream: hj.HijackedStream,
    keys: bytes | None,
    output: Subscription,
) -> None:
    # Input may come before `start`: hold it until the monitor link is up.
    await c.live.linked.wait()
    scanner = detachkeys.Scanner(keys) if keys else None
    while True:
        data = await stream.read()
        if not data:
            break
        detached = False
        if scanner is not None:
            data, detached = scanner.feed(data)
        if data:
            await svc.send_stdin(c, data)
        if detached:  # the detach keys end this attach; stdin stays open
            output.put_nowait(None)
            return
    # dockerd: CloseStdin = StdinOnce && !Tty
    if c.config.get("StdinOnce") and not c.config.get("Tty"):
        await svc.close_stdin(c)
