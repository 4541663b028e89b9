"""The Engine API HTTP server: routing with optional `/vX.Y` prefixes, the
version check, Docker's response headers, and errors as `{"message": ...}`.

aiohttp serves HTTP/1.1 on the Unix socket: it handles keep-alive, chunked
streams and (through `hijack.py`) Docker's `Upgrade: tcp` connections, which a
hand-written server would have to re-derive. Routers are plain aiohttp route
tables; this module knows none of them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from aiohttp.web_urldispatcher import UrlMappingMatchInfo

from dockyard import __version__
from dockyard.api import errors, version, versions
from dockyard.daemon.server.params import ANSWER_KEY

log = logging.getLogger("dockyard.api")

_VERSION_PREFIX = re.compile(r"^/v(\d+\.\d+)(?=/)")
API_VERSION_KEY = web.RequestKey("api_version", str)
_STREAMING_KEY = web.RequestKey("streaming", bool)
MAX_HEADER_BYTES = 1 << 20
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class VersionedRouter(web.UrlDispatcher):
    """Resolves every route with and without a `/vX.Y` prefix (moby's version middleware)."""

    async def resolve(self, request: web.Request) -> UrlMappingMatchInfo:
        path = request.rel_url.path
        m = _VERSION_PREFIX.match(path)
        if m:
            stripped = request.rel_url.with_path(path[m.end() :]).with_query(request.rel_url.query)
            request = request.clone(rel_url=stripped)
        return await super().resolve(request)


def request_version(path: str) -> str:
    m = _VERSION_PREFIX.match(path)
    return m.group(1) if m else version.API_VERSION


def error_response(status: int, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps({"message": message}).encode() + b"\n",
        content_type="application/json",
    )


def _headers(resp: web.StreamResponse) -> None:
    h = resp.headers
    h["Api-Version"] = version.API_VERSION
    h["Docker-Experimental"] = "false"
    h["Ostype"] = "linux"
    h["Server"] = f"Dockyard/{__version__} (linux)"


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    v = request_version(request.rel_url.path)
    if version.less_than(version.API_VERSION, v):
        return error_response(
            400,
            f"client version {v} is too new. Maximum supported API version is {version.API_VERSION}",
        )
    if version.less_than(v, version.MIN_API_VERSION):
        return error_response(
            400,
            f"client version {v} is too old. Minimum supported API version is "
            f"{version.MIN_API_VERSION}, please upgrade your client to a newer version",
        )
    request[API_VERSION_KEY] = v
    op = _operation(request)
    try:
        if op is not None:
            request = _read_as_newest(request, op, v)
        resp = await handler(request)
    except web.HTTPNotFound:
        resp = error_response(404, "page not found")
    except web.HTTPMethodNotAllowed:
        resp = error_response(405, "method not allowed")
    except web.HTTPException as exc:
        resp = error_response(exc.status, exc.reason or exc.text or "")
    except errors.DockyardError as exc:
        log.debug("%s %s -> %s: %s", request.method, request.path, exc.status, exc.message)
        resp = error_response(errors.status_for(exc), exc.message)
    except json.JSONDecodeError as exc:
        resp = error_response(400, f"invalid JSON: {exc}")
    except (ConnectionResetError, BrokenPipeError) as exc:
        if not _client_gone(request):
            raise  # another connection broke (a monitor's): the client is still there
        # The client went away (a CLI killed while it waits, follows or attaches):
        # nobody to answer, and no daemon error. aiohttp finds the transport
        # closing when it finishes this answer and drops it quietly.
        log.debug("%s %s: the client went away (%s)", request.method, request.path, exc)
        return web.Response(status=499)
    except Exception as exc:
        # Whatever a handler did not expect is still answered as the Engine API answers:
        # JSON, never aiohttp's plain-text 500; the traceback goes to the log.
        log.exception("%s %s: unhandled error", request.method, request.path)
        if request.get(_STREAMING_KEY):
            raise
        resp = error_response(500, _unhandled_message(exc))
    if op is not None and not resp.prepared and ANSWER_KEY in resp:
        _shape(resp, op, v)
    if not resp.prepared:
        _headers(resp)
    return resp


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _unhandled_message(exc: Exception) -> str:
    return f"internal error: {type(exc).__name__}: {exc}"[:4096]


def _operation(request: web.Request) -> str | None:
    resource = request.match_info.route.resource
    return versions.operation(request.method, resource.canonical) if resource else None


def _read_as_newest(request: web.Request, op: str, v: str) -> web.Request:
    """The request as the newest API reads it (an older client's parameters renamed);
    what no version accepts any more is refused here."""
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    versions.check_request(op, request.content_length, chunked)
    query = {k: request.query.getall(k) for k in request.query}
    newer = versions.read_query(op, v, query)
    if newer is None:
        return request
    pairs = [(k, value) for k, values in newer.items() for value in values]
    return request.clone(rel_url=request.rel_url.with_query(pairs))


def _shape(resp: web.StreamResponse, op: str, v: str) -> None:
    """The answer in the shape of the client's API version (services answer the newest)."""
    if isinstance(resp, web.Response) and 200 <= resp.status < 300:
        # Reshape a copy read back from the body: the data may be a service's own
        # state (a container's HostConfig, a network's record), never to be edited.
        shaped = versions.shape_answer(op, v, json.loads(resp.body))
        resp.body = json.dumps(shaped).encode() + b"\n"


async def _on_prepare(request: web.Request, resp: web.StreamResponse) -> None:
    # A response whose headers went out cannot become an error response any more.
    request[_STREAMING_KEY] = True
    _headers(resp)


def make_app(route_tables: Iterable[Iterable[web.AbstractRouteDef]]) -> web.Application:
    app = web.Application(
        router=VersionedRouter(),
        middlewares=[api_middleware],
        client_max_size=1 << 40,
        # Go's http.Server reads up to 1 MiB of request line and headers (a build's
        # buildargs and X-Registry-Config easily pass aiohttp's 8 KiB default).
        handler_args={
            "access_log": None,
            "max_line_size": MAX_HEADER_BYTES,
            "max_field_size": MAX_HEADER_BYTES,
        },
    )
    for table in route_tables:
        app.router.add_routes(table)
    app.on_response_prepare.append(_on_prepare)
    return app
