"""The handlers of `compose` commands: options in, Engine API work through
`converge`/`ops`, output as Compose v2 prints it.

`Context` loads the project on first use (so `ls` and `version` need no compose
file) and builds the client from the host the entry point resolved.
"""

from __future__ import annotations

import os
import sys

from dockyard.compose import labels
from dockyard.compose.errors import ComposeError
from dockyard.compose.progress import Progress

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from dockyard.compose.model import Project

DEFAULT_HOST = "unix:///run/dockyard/dockyard.sock"


class Context:
    def __init__(self, gopts: dict[str, Any], environ: Mapping[str, str],
                 host: str | None = None) -> None:  # fmt: skip
        self.gopts = gopts
        self.environ = environ
        self.host = (
            host or environ.get("DOCKER_HOST") or environ.get("DOCKYARD_HOST") or DEFAULT_HOST
        )
        self._client: Any = None
        self._ping: Any = None
        progress = gopts.get("progress") or environ.get("COMPOSE_PROGRESS") or "auto"
        self.progress = Progress(progress)

    def negotiate(self) -> None:
        """Ask the daemon's API version now, in a thread, while the project loads.

        The ping is the one round trip every command waits for; overlapped with
        reading the compose files it costs nothing. Errors surface on first use."""
        import threading

        def ping() -> None:
            try:
                self._new_client().version  # noqa: B018 - negotiates
            except Exception:  # noqa: BLE001 - the first real call reports it
                pass

        self._ping = threading.Thread(target=ping, daemon=True)
        self._ping.start()

    def _new_client(self) -> Any:
        if self._client is None:
            from dockyard.client.api import Client

            self._client = Client(self.host)
        return self._client

    @property
    def client(self) -> Any:
        if self._ping is not None:
            self._ping.join()
            self._ping = None
        return self._new_client()

    @property
    def api(self) -> Any:
        from dockyard.compose.engineapi import EngineAPI

        return EngineAPI(self.client)

    def project(self, selected: list[str] | None = None) -> Project:
        from dockyard.compose.loader import Options, load

        g = self.gopts
        opts = Options(
            files=tuple(g.get("file") or ()),
            project_name=g.get("project_name") or None,
            project_dir=g.get("project_directory") or None,
            env_files=tuple(g.get("env_file") or ()),
            profiles=tuple(g.get("profile") or ()),
            environ=dict(self.environ),
            selected=tuple(selected or ()),
        )
        try:
            return load(opts, self.progress.warn)
        except ComposeError as e:
            if "no configuration file provided" in str(e) and g.get("project_name"):
                return self._bare_project(g["project_name"])
            raise

    def _bare_project(self, name: str) -> Project:
        """`-p NAME` with no compose file: commands act on what the project's labels find."""
        from dockyard.compose.model import Project, Service

        found = self.api.containers(name, True, None)
        services = {}
        for c in found:
            s = (c.get("Labels") or {}).get(labels.SERVICE, "")
            services[s] = Service(s, {"image": c.get("Image", "")})
        nets = {n["Name"]: {"name": n["Name"]} for n in self.api.networks(name)}
        return Project(name, os.getcwd(), (), services, networks=nets)

    def ops(self, project: Project) -> Any:
        from dockyard.compose.ops import Ops

        return Ops(self.api, project, self.progress)

    def converger(self, project: Project) -> Any:
        from dockyard.compose.converge import Converger

        return Converger(self.api, project, self.progress)


def _scales(items: list[str]) -> dict[str, int]:
    out = {}
    for item in items:
        name, eq, n = item.partition("=")
        if not eq or not n.isdigit():
            raise ComposeError(f"invalid --scale option {item!r}: use SERVICE=NUM")
        out[name] = int(n)
    return out


def _selected(project: Project, args: list[str], deps: bool = True) -> Project:
    return project.with_services(args, deps) if args else project


# -- up / create / down ------------------------------------------------------------
def _env_bool(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").lower() in ("1", "true", "yes")


def _up_options(opts: dict[str, Any], environ: Mapping[str, str], start: bool) -> Any:
    from dockyard.compose.converge import UpOptions

    if opts.get("build") and opts.get("no_build"):
        raise ComposeError("--build and --no-build are incompatible")
    if opts.get("force_recreate") and opts.get("no_recreate"):
        raise ComposeError("--force-recreate and --no-recreate are incompatible")
    return UpOptions(
        build="always" if opts.get("build") else "never" if opts.get("no_build") else "auto",
        recreate="force" if opts.get("force_recreate") else
        "never" if opts.get("no_recreate") else "diverged",
        start=start,
        remove_orphans=bool(opts.get("remove_orphans"))
        or _env_bool(environ, "COMPOSE_REMOVE_ORPHANS"),
        ignore_orphans=_env_bool(environ, "COMPOSE_IGNORE_ORPHANS"),
        renew_anon_volumes=bool(opts.get("renew_anon_volumes")),
        timeout=opts.get("timeout"),
        pull=opts.get("pull") or None,
    )  # fmt: skip


def cmd_up(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    project = ctx.project(args)
    if opts["scale"]:
        project = project.with_scale(_scales(opts["scale"]))
    project = _selected(project, args, not opts["no_deps"])
    up = _up_options(opts, ctx.environ, start=not opts["no_start"])
    conv = ctx.converger(project)
    detach = opts["detach"] or opts["wait"]
    if opts["exit_code_from"]:
        opts["abort_on_container_exit"] = True
        if opts["exit_code_from"] not in project.services:
            raise ComposeError(f"no such service: {opts['exit_code_from']}")
    if detach and opts["abort_on_container_exit"]:
        raise ComposeError("--abort-on-container-exit and --detach are incompatible")

    conv.up(up)
    if opts["wait"]:
        conv.wait_running(opts["wait_timeout"])
    if detach or not up.start:
        return 0
    from dockyard.compose import logs

    attach = opts["attach"] or [s for s in (args or project.services) if s not in opts["no_attach"]]
    ids = {cid for s in attach for cid in conv.created.get(s, [])}
    containers = [c for c in ctx.api.containers(project.name) if c["Id"] in ids]
    printer = logs.Printer(color=False if opts["no_color"] else None,
                           prefix=not opts["no_log_prefix"])  # fmt: skip
    printer.event("Attaching to " + ", ".join(logs.display_name(c) for c in containers))
    ops = ctx.ops(project)

    def stop_all() -> None:
        ops.stop(None, opts["timeout"])

    return logs.attach(ctx.api, containers, printer, opts["abort_on_container_exit"],
                       opts["exit_code_from"], stop_all)  # fmt: skip


def cmd_create(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    project = ctx.project(args)
    if opts["scale"]:
        project = project.with_scale(_scales(opts["scale"]))
    project = _selected(project, args)
    ctx.converger(project).up(_up_options(opts, ctx.environ, start=False))
    return 0


def cmd_down(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    if opts["rmi"] not in (None, "", "local", "all"):
        raise ComposeError(f"invalid value for --rmi: {opts['rmi']}")
    project = ctx.project()
    ctx.ops(project).down(opts["remove_orphans"], opts["volumes"], opts["rmi"] or None,
                          opts["timeout"])  # fmt: skip
    return 0


# -- simple lifecycle ----------------------------------------------------------------
def cmd_start(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    project = ctx.project(args)
    ctx.ops(project).start(args or None)
    return 0


def cmd_stop(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    project = ctx.project(args)
    ctx.ops(project).stop(args or None, opts["timeout"])
    return 0


def cmd_restart(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    project = ctx.project(args)
    if args and not opts["no_deps"]:  # v2 restarts what depends on them too
        args = project.dependents(args)
    ctx.ops(project).restart(args or None, opts["timeout"])
    return 0


def cmd_kill(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.compose.plan import is_running

    project = ctx.project(args)
    api = ctx.api
    ctx.ops(project).simple(args or None, "Killing", "Killed",
                            lambda cid: api.kill(cid, opts["signal"]), is_running)  # fmt: skip
    return 0


def cmd_pause(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    project = ctx.project(args)
    ctx.ops(project).simple(args or None, "Pausing", "Paused", ctx.api.pause,
                            lambda c: c.get("State") == "running")  # fmt: skip
    return 0


def cmd_unpause(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    project = ctx.project(args)
    ctx.ops(project).simple(args or None, "Unpausing", "Unpaused", ctx.api.unpause,
                            lambda c: c.get("State") == "paused")  # fmt: skip
    return 0


def cmd_rm(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    project = ctx.project(args)
    ops = ctx.ops(project)
    if opts["stop"]:
        ops.stop(args or None, None)
    targets = [c for c in ops.containers(args or None, oneoff=None) if c.get("State") != "running"]
    if not targets:
        ctx.progress.stream.write("No stopped containers\n")
        return 0
    ops.remove(args or None, True, opts["volumes"])
    return 0


def cmd_wait(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    project = ctx.project(args)
    ops = ctx.ops(project)
    status = 0
    for c in ops.containers(args):
        status = ctx.api.wait(c["Id"])
        if opts["down_project"]:
            ops.down(False, False, None, None)
            break
    return status


def cmd_watch(ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.compose.converge import UpOptions
    from dockyard.compose.watch import Watcher

    project = _selected(ctx.project(args), args)
    if not opts["no_up"]:
        ctx.converger(project).up(UpOptions(build="always"))

    def recreate(service: Any) -> None:
        one = project.with_services([service.name], deps=False)
        ctx.converger(one).up(UpOptions(recreate="force"))

    def say(text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    Watcher(ctx.api, project, say, recreate).run()
    return 0
