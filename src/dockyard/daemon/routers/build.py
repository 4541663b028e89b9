"""The build router: `POST /build` (the classic builder; what
`DOCKER_BUILDKIT=0 docker build` and docker-py's `images.build` call).
Parameters are Docker's query parameters; the response is the JSON message
stream (one object per line), errors after the first byte as `errorDetail`."""

from __future__ import annotations

import json
from typing import Any, Protocol

from aiohttp import web

from dockyard.api import buildresources
from dockyard.api.errors import DockyardError, InvalidParameter
from dockyard.api.models import gojson
from dockyard.api.models.gojson import Ptr
from dockyard.builder.builder import BuildError, BuildOptions, Emit
from dockyard.builder.context import BuildContext
from dockyard.daemon.server.params import json_body, json_response, qbool
from dockyard.dockerfile.parser import Dockerfile


class BuildBackend(Protocol):
    async def receive(
        self, body: Any, opts: BuildOptions, context_key: str = ""
    ) -> tuple[BuildContext, Dockerfile]: ...

    async def context_need(self, key: str, manifest: Any) -> list[str]: ...

    async def release(self, ctx: BuildContext) -> None: ...

    async def build(
        self, df: Dockerfile, ctx: BuildContext, opts: BuildOptions, emit: Emit
    ) -> str: ...

    async def prune(self, everything: bool, filters: dict[str, list[str]]) -> dict[str, Any]: ...


def _json_param(request: web.Request, name: str, default: Any) -> Any:
    raw = request.query.get(name)
    if not raw:
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise InvalidParameter(f"invalid {name} parameter: {raw!r}") from None


def _typed_param(request: web.Request, name: str, model: Any, default: Any, what: str = "") -> Any:
    """A JSON query parameter decoded into its Go type, in dockerd's words ("error reading
    build args: json: cannot unmarshal ...")."""
    raw = request.query.get(name)
    if not raw:
        return default
    try:
        value = gojson.decode(raw, model, default)
    except InvalidParameter as exc:
        raise InvalidParameter(
            f"error reading {what}: {exc.message}" if what else exc.message
        ) from None
    return value if value is not None else default


def _check_version(request: web.Request) -> None:
    """`version`: this daemon has only the classic builder ("1") and its ping says
    `Builder-Version: 1`, so "2" (BuildKit) is refused in moby's words for a daemon
    whose buildkit feature is off (build_routes.go; dockerd 20.10 always has BuildKit
    and never refuses it); any other value is dockerd's plain error (a 500)."""
    v = request.query.get("version", "")
    if v not in ("", "1", "2"):
        raise DockyardError(f"invalid version {json.dumps(v, ensure_ascii=False)}")  # Go's %q
    if v == "2":
        raise InvalidParameter("buildkit is not enabled on daemon")


def options(request: web.Request) -> BuildOptions:
    q = request.query
    opts = BuildOptions(
        dockerfile=q.get("dockerfile", "Dockerfile") or "Dockerfile",
        tags=q.getall("t", []),
        buildargs=_typed_param(request, "buildargs", dict[str, Ptr[str]], {}, "build args"),
        target=q.get("target", ""),
        labels=_typed_param(request, "labels", dict[str, str], {}, "labels"),
        nocache=qbool(request, "nocache"),
        quiet=qbool(request, "q"),
        rm=qbool(request, "rm", True),
        forcerm=qbool(request, "forcerm"),
        networkmode=q.get("networkmode", ""),
        extrahosts=q.getall("extrahosts", []),  # every value, each one host (r.Form)
        cachefrom=_typed_param(request, "cachefrom", list[str], []),
        pull=qbool(request, "pull"),
        platform=q.get("platform", ""),
        resources=buildresources.host_config(q),
    )
    _check_version(request)  # after the other parameters, as dockerd reads them
    return opts


def routes(backend: BuildBackend) -> web.RouteTableDef:
    r = web.RouteTableDef()

    @r.post("/build/prune")
    async def prune(request: web.Request) -> web.Response:
        filters = _json_param(request, "filters", {}) or {}
        if not isinstance(filters, dict):
            raise InvalidParameter("invalid filters parameter")
        # keep-storage, reserved-space, max-used-space, min-free-space: the cache holds
        # references to images, not storage of its own, so there is nothing to keep
        return json_response(await backend.prune(qbool(request, "all"), filters))

    @r.post("/build")
    async def build(request: web.Request) -> web.StreamResponse:
        opts = options(request)
        if request.query.get("remote"):
            raise InvalidParameter("building from a remote context is not supported")
        ctx, df = await backend.receive(
            request.content.iter_chunked(1 << 20), opts, request.query.get("contextkey", "")
        )
        try:
            resp = web.StreamResponse(headers={"Content-Type": "application/json"})
            await resp.prepare(request)

            async def emit(msg: dict[str, Any]) -> None:
                await resp.write(json.dumps(msg).encode() + b"\r\n")

            for w in df.warnings:
                await emit({"stream": w + "\n"})
            try:
                await backend.build(df, ctx, opts, emit)
            except DockyardError as exc:
                detail: dict[str, Any] = {"message": exc.message}
                if isinstance(exc, BuildError) and exc.code is not None:
                    detail["code"] = exc.code
                await emit({"errorDetail": detail, "error": exc.message})
            await resp.write_eof()
            return resp
        finally:
            await backend.release(ctx)

    @r.post("/dockyard/build-context")
    async def context_need(request: web.Request) -> web.Response:
        """Dockyard's extension for `dockyard build`: the client's context manifest
        in, the files it must send out (the rest is kept from its last build)."""
        manifest = await json_body(request, {})
        need = await backend.context_need(request.query.get("key", ""), manifest)
        return json_response({"need": need})

    return r
