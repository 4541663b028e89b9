"""Swarm-mode and plugin routes on a daemon that is in no swarm and has no plugins.

Docker answers the swarm family on such a node with 503 and this message, and
lists no plugins; so does Dockyard until `cluster/` lands. These are the real
answers for this node's state, not placeholders for success.
"""

from __future__ import annotations

from aiohttp import web

from dockyard.api.errors import NotFound, Unavailable
from dockyard.daemon.server.params import json_response

NOT_A_MANAGER = (
    'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to '
    "connect this node to swarm and try again."
)

_SWARM_ROUTES = [
    ("GET", "/swarm"), ("POST", "/swarm/init"), ("POST", "/swarm/join"),
    ("POST", "/swarm/leave"), ("POST", "/swarm/update"), ("GET", "/swarm/unlockkey"),
    ("POST", "/swarm/unlock"),
    ("GET", "/nodes"), ("GET", "/nodes/{id}"), ("DELETE", "/nodes/{id}"),
    ("POST", "/nodes/{id}/update"),
    ("GET", "/services"), ("POST", "/services/create"), ("GET", "/services/{id}"),
    ("DELETE", "/services/{id}"), ("POST", "/services/{id}/update"),
    ("GET", "/services/{id}/logs"),
    ("GET", "/tasks"), ("GET", "/tasks/{id}"), ("GET", "/tasks/{id}/logs"),
    ("GET", "/secrets"), ("POST", "/secrets/create"), ("GET", "/secrets/{id}"),
    ("DELETE", "/secrets/{id}"), ("POST", "/secrets/{id}/update"),
    ("GET", "/configs"), ("POST", "/configs/create"), ("GET", "/configs/{id}"),
    ("DELETE", "/configs/{id}"), ("POST", "/configs/{id}/update"),
]  # fmt: skip


def routes() -> web.RouteTableDef:
    r = web.RouteTableDef()

    async def not_in_swarm(request: web.Request) -> web.Response:
        if request.path.endswith("/swarm/leave"):
            raise Unavailable("This node is not part of a swarm")
        raise Unavailable(NOT_A_MANAGER)

    for method, path in _SWARM_ROUTES:
        r.route(method, path)(not_in_swarm)

    @r.get("/plugins")
    async def plugins(request: web.Request) -> web.Response:
        return json_response([])

    @r.get("/plugins/{name}/json")
    async def plugin(request: web.Request) -> web.Response:
        raise NotFound(f'plugin "{request.match_info["name"]}" not found')

    return r
