"""Commands that run something in or against one container: exec, run, cp, and the
image commands build, pull and push.

exec, run and cp reuse the docker-like CLI's stream handling (`dockyard.cli.exec`,
`dockyard.cli.attach.attach_and_start`, `dockyard.cli.cp`): one implementation
of hijacked streams, TTYs and tar copies, given a `Cli` bound to our client.
"""

from __future__ import annotations

import secrets
import sys

from dockyard.compose import convert, images, labels
from dockyard.compose.commands import Context, _selected
from dockyard.compose.errors import ComposeError
from dockyard.compose.injectfiles import inject
from dockyard.compose.views import _container

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _cli(ctx: Context) -> Any:
    from dockyard.cli.main import Cli

    cli = Cli(None)
    cli._client = ctx.client
    return cli


def _tty(opts: dict[str, Any]) -> bool:
    return not opts["no_tty"] and sys.stdin.isatty() and sys.stdout.isatty()


def cmd_exec(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.exec import exec_

    project = ctx.project(args[:1])
    c = _container(ctx, project, args[0], opts["index"])
    if c.get("State") != "running":
        raise ComposeError(f'service "{args[0]}" is not running')
    tty = _tty(opts)
    eopts = {"detach": opts["detach"], "tty": tty, "interactive": opts["interactive"] and tty,
             "user": opts["user"], "privileged": opts["privileged"], "detach_keys": None,
             "env": opts["env"], "env_file": [], "workdir": opts["workdir"]}  # fmt: skip
    return exec_(_cli(ctx), eopts, [c["Id"], *args[1:]])


def cmd_run(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.attach import attach_and_start
    from dockyard.compose.converge import UpOptions
    from dockyard.compose.normalize import kv_list, ports, volumes

    name = args[0]
    project = ctx.project([name])
    service = project.service(name)
    conv = ctx.converger(project)
    deps = [d for d in project.dependency_order([name]) if d != name]
    conv.ensure_networks()
    conv.ensure_volumes()
    if deps and not opts["no_deps"]:
        # the dependencies only, as docker compose's startDependencies: no container of
        # the service itself, which counts as disabled (not an orphan) meanwhile
        needed = project.with_services(deps, deps=False)
        needed = needed.replace(disabled={**project.disabled, name: service})
        ctx.converger(needed).up(UpOptions())
    one = _selected(project, [name], False)
    ctx.converger(one).ensure_images(UpOptions(build="always" if opts["build"] else "auto"))
    cfg = dict(service.config)
    if len(args) > 1:
        cfg["command"] = args[1:]
    if opts["entrypoint"] is not None:
        from dockyard.compose.normalize import shell_words

        cfg["entrypoint"] = shell_words(opts["entrypoint"])
    if opts["env"]:
        cfg["environment"] = {**(cfg.get("environment") or {}),
                              **kv_list(opts["env"], project.environment)}  # fmt: skip
    if opts["label"]:
        cfg["labels"] = {**(cfg.get("labels") or {}), **kv_list(opts["label"])}
    published = ports(opts["publish"]) if opts["publish"] else []
    cfg["ports"] = (cfg.get("ports") or []) + published if opts["service_ports"] else published
    if opts["volume"]:
        cfg["volumes"] = (cfg.get("volumes") or []) + volumes(opts["volume"], project.working_dir)
    if opts["user"]:
        cfg["user"] = opts["user"]
    if opts["workdir"]:
        cfg["working_dir"] = opts["workdir"]
    cfg.pop("container_name", None)
    tty = _tty(opts)
    cfg["tty"] = tty
    cfg["stdin_open"] = opts["interactive"] and not opts["detach"]
    from dockyard.compose.model import Service

    svc = Service(name, cfg)
    cname = opts["name"] or f"{project.name}-{name}-run-{secrets.token_hex(6)}"
    conv2 = ctx.converger(project)
    conv2.image_ids = {
        name: (ctx.api.image(convert.image_name(project, service)) or {}).get("Id", "")
    }
    override: dict[str, Any] = {"AttachStdin": cfg["stdin_open"], "OpenStdin": cfg["stdin_open"],
                                "StdinOnce": cfg["stdin_open"]}  # fmt: skip
    number = 1
    cid = _create_oneoff(conv2, svc, number, cname, override, opts["rm"])
    if opts["detach"]:
        ctx.api.start(cid)
        sys.stdout.write(cid + "\n")
        return 0
    streams = ["stdout", "stderr"] + (["stdin"] if cfg["stdin_open"] else [])
    return attach_and_start(_cli(ctx), cid, streams, tty,
                            "removed" if opts["rm"] else "next-exit", "run", True)  # fmt: skip


def _create_oneoff(conv: Any, svc: Any, number: int, name: str,
                   override: dict[str, Any], auto_remove: bool) -> str:  # fmt: skip
    project = conv.project
    lbls = labels.container_labels(project, svc, number, True, conv.image_ids.get(svc.name, ""),
                                   conv._first_container)  # fmt: skip
    lbls[labels.SLUG] = name.rsplit("-", 1)[-1]
    mode = convert.network_mode(project, svc, conv._first_container)
    nets = [project.networks[k]["name"] for k in convert.sorted_networks(svc)]
    body = convert.create_body(project, svc, lbls, convert.image_name(project, svc), mode,
                               nets[0] if nets else None)  # fmt: skip
    body.update(override)
    if auto_remove:
        body["HostConfig"]["AutoRemove"] = True
    cid = conv.api.create(name, body)
    inject(conv.api, project, svc, cid)
    if not mode:
        for key in convert.sorted_networks(svc)[1:]:
            conv.api.connect(project.networks[key]["name"], cid,
                             convert.endpoint(project, svc, key))  # fmt: skip
    return cid


def cmd_cp(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.cp import cp

    project = ctx.project()
    resolved = []
    for a in args:
        service, sep, path = a.partition(":")
        if sep and (service in project.services or service in project.disabled):
            c = _container(ctx, project, service, opts["index"])
            resolved.append(f"{c['Id']}:{path}")
        else:
            resolved.append(a)
    return cp(_cli(ctx), {"archive": opts["archive"], "follow_link": opts["follow_link"],
                          "quiet": True}, resolved)  # fmt: skip


def cmd_build(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    project = ctx.project(args)
    project = _selected(project, args, opts["with_dependencies"])
    extra = {}
    for a in opts["build_arg"]:
        k, eq, v = a.partition("=")
        extra[k] = v if eq else project.environment.get(k)
    api = ctx.api
    quiet = opts["quiet"]
    for name, svc in sorted(project.services.items()):
        if not svc.build:
            continue
        ref = convert.image_name(project, svc)
        ctx.progress.event("Service", name, "Building")
        images.build(api, project, svc, ref, opts["no_cache"], opts["pull"], extra,
                     None if quiet else lambda line: sys.stdout.write(line))  # fmt: skip
        ctx.progress.event("Service", name, "Built")
    return 0


def cmd_pull(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    project = ctx.project(args)
    project = _selected(project, args, opts["include_deps"])
    failed = False
    for _name, svc in sorted(project.services.items()):
        if not svc.image or (svc.build and opts["ignore_buildable"]):
            continue
        ctx.progress.event("Image", svc.image, "Pulling")
        try:
            images.pull(ctx.api, svc.image)
        except ComposeError as e:
            if svc.build or opts["ignore_pull_failures"]:
                ctx.progress.event("Image", svc.image, f"Warning: {e}")
                continue
            ctx.progress.event("Image", svc.image, f"Error {e}")
            failed = True
            continue
        ctx.progress.event("Image", svc.image, "Pulled")
    if failed:
        raise ComposeError("failed to pull images")
    return 0


def cmd_push(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    project = ctx.project(args)
    project = _selected(project, args, opts["include_deps"])
    for _name, svc in sorted(project.services.items()):
        if not svc.image:
            continue
        ctx.progress.event("Image", svc.image, "Pushing")
        try:
            images.push(ctx.api, svc.image)
        except ComposeError:
            if not opts["ignore_push_failures"]:
                raise
        ctx.progress.event("Image", svc.image, "Pushed")
    return 0
