"""Images for services: pull, build (context tar through the CLI's builder client), push.

The build context is sent as `dockyard build` sends it (`dockyard.cli.build`'s
.dockerignore-aware walker and tar stream: one implementation of docker's context
rules). Streams of JSON messages are drained; an `error` in one is the failure.
"""

from __future__ import annotations

import json
import os

from dockyard.client.errors import ClientError
from dockyard.compose.errors import ComposeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.compose.engineapi import EngineAPI
    from dockyard.compose.model import Project, Service


def split_reference(ref: str) -> tuple[str, str]:
    from dockyard.cli.format import split_reference as split

    repo, tag = split(ref)
    return repo, tag or ("" if "@" in ref else "latest")


def _drain(api: EngineAPI, resp: Any, on_line: Callable[[str], None] | None = None) -> str:
    """Read a progress stream to its end; the built image ID if the stream names one."""
    image_id = ""
    for msg in api.client.json_stream(resp):
        if not isinstance(msg, dict):
            continue
        if msg.get("errorDetail") or msg.get("error"):
            raise ComposeError((msg.get("errorDetail") or {}).get("message") or msg["error"])
        if isinstance(msg.get("aux"), dict) and msg["aux"].get("ID"):
            image_id = msg["aux"]["ID"]
        if on_line is not None and msg.get("stream"):
            on_line(msg["stream"])
    return image_id


def _auth(ref: str) -> dict[str, str]:
    """Saved registry credentials for the reference's registry (`dockyard login`'s)."""
    from dockyard.cli.registry import auth_header, registry_host

    return auth_header(registry_host(ref))


def pull(api: EngineAPI, ref: str) -> None:
    repo, tag = split_reference(ref)
    try:
        resp = api.client.request(
            "POST", "/images/create", {"fromImage": repo, "tag": tag}, None, _auth(ref)
        )
    except ClientError as e:
        raise ComposeError(str(e)) from None
    _drain(api, resp)


def push(api: EngineAPI, ref: str) -> None:
    from dockyard.client.http import quote

    repo, tag = split_reference(ref)
    headers = _auth(ref) or {"X-Registry-Auth": "e30="}  # "{}": anonymous
    try:
        resp = api.client.request(
            "POST", f"/images/{quote(repo, safe='/:')}/push", {"tag": tag}, None, headers
        )
    except ClientError as e:
        raise ComposeError(str(e)) from None
    _drain(api, resp)


def build(
    api: EngineAPI,
    project: Project,
    service: Service,
    tag: str,
    no_cache: bool = False,
    pull_base: bool = False,
    extra_args: dict[str, str | None] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> str:
    from dockyard.cli.build import STDIN_DOCKERFILE, _context_tar, context_source

    spec = service.build or {}
    context = spec["context"]
    if not os.path.isdir(context):
        raise ComposeError(
            f"build context {context!r} of service {service.name} is not a directory"
        )
    if spec.get("dockerfile_inline") is not None:
        entries, dockerfile, df_text = context_source(
            context, STDIN_DOCKERFILE, spec["dockerfile_inline"].encode()
        )
    else:
        # compose's `dockerfile` is relative to the context
        entries, dockerfile, df_text = context_source(
            context, os.path.join(context, spec.get("dockerfile", "Dockerfile")), None
        )
    args = {k: v for k, v in (spec.get("args") or {}).items()}
    args.update(extra_args or {})
    args = {k: (v if v is not None else project.environment.get(k)) for k, v in args.items()}
    params: dict[str, Any] = {
        "t": [tag, *spec.get("tags", [])],
        "dockerfile": dockerfile,
        "buildargs": json.dumps({k: v for k, v in args.items() if v is not None}),
        "labels": json.dumps(spec.get("labels") or {}),
        "nocache": no_cache or bool(spec.get("no_cache")),
        "pull": pull_base or bool(spec.get("pull")),
        "rm": True,
    }
    if spec.get("target"):
        params["target"] = spec["target"]
    if spec.get("network"):
        params["networkmode"] = spec["network"]
    if spec.get("cache_from"):
        params["cachefrom"] = json.dumps(spec["cache_from"])
    if spec.get("extra_hosts"):
        hosts = spec["extra_hosts"]
        items = [f"{k}:{v}" for k, v in hosts.items()] if isinstance(hosts, dict) else hosts
        params["extrahosts"] = [str(h).replace("=", ":", 1) for h in items]  # one value each
    if spec.get("shm_size"):
        from dockyard.compose.convert import size_bytes

        params["shmsize"] = size_bytes(spec["shm_size"])
    try:
        resp = api.client.request(
            "POST", "/build", params, _context_tar(entries, df_text),
            {"Content-Type": "application/x-tar"},
        )  # fmt: skip
        image_id = _drain(api, resp, on_line)
    except ClientError as e:
        raise ComposeError(f"failed to solve: {e}") from None
    if not image_id:
        info = api.image(tag)
        image_id = info["Id"] if info else ""
    return image_id
