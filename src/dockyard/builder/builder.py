"""The classic builder: runs a parsed Dockerfile, one image per step, the way
`DOCKER_BUILDKIT=0 docker build` does.

Each step starts from its parent image: RUN runs a real container through
the container service and commits its upper dir (`CommitService.layer_of`);
COPY/ADD mount a fresh snapshot of the parent, copy into it and commit it;
every other instruction only edits the config (an `empty_layer` history
entry). A step hits the cache when (parent id, created_by) was built before
(`BuildCache`, which survives restarts); COPY/ADD's created_by carries the
content checksum, RUN's the build args in use. Only the stages the target
needs are built. Messages go out through `emit` as the classic JSON stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import json
import os
import posixpath
import shutil
import stat
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dockyard.api.errors import DockyardError, InvalidParameter, NotFound
from dockyard.builder import copy as fcopy
from dockyard.builder import runstep, stagefail
from dockyard.builder.cache import BuildCache
from dockyard.builder.cachefrom import CacheFrom
from dockyard.builder.context import BuildContext, checksum
from dockyard.builder.errors import BuildError
from dockyard.builder.fsview import HOST, is_dir
from dockyard.builder.inflight import StepLocks
from dockyard.daemon.services.commit import CommitService, image_config
from dockyard.daemon.services.containers import ContainerService
from dockyard.daemon.services.images import ImageService
from dockyard.daemon.services.ocispec import replace_or_append_env
from dockyard.dockerfile.parser import Dockerfile, DockerfileError, Instruction, parse_line
from dockyard.dockerfile.shell import expand_heredoc
from dockyard.dockerfile.stages import PROXY_ARGS, Stage, expand, expand_flags, split_stages, word
from dockyard.proto import changes as change_rules
from dockyard.proto.image import host_platform
from dockyard.rootpath import open_in_root
from dockyard.snapshot.snapshotter import upper_dir

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ["/bin/sh", "-c"]
Emit = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class BuildOptions:
    dockerfile: str = "Dockerfile"
    tags: list[str] = field(default_factory=list)
    buildargs: dict[str, str | None] = field(default_factory=dict)
    target: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    nocache: bool = False
    quiet: bool = False
    rm: bool = True
    forcerm: bool = False
    networkmode: str = ""
    extrahosts: list[str] = field(default_factory=list)
    cachefrom: list[str] = field(default_factory=list)
    pull: bool = False
    platform: str = ""
    resources: dict[str, Any] = field(default_factory=dict)  # RUN's limits (HostConfig)


@dataclass
class _State:
    image_id: str  # "" for scratch
    config: dict[str, Any]  # the whole image config
    snapshot: str | None
    args: dict[str, str | None] = field(default_factory=dict)  # declared ARGs
    cmd_set: bool = False
    author: str = ""

    @property
    def cc(self) -> dict[str, Any]:
        return self.config.setdefault("config", {})

    def env(self) -> dict[str, str]:
        out = {k: v for k, v in self.args.items() if v is not None}
        for kv in self.cc.get("Env") or []:
            k, _, v = kv.partition("=")
            out[k] = v
        return out


@dataclass
class _StageOut:
    """One stage's place in the output: its step numbers and what it said
    while an earlier stage (still running) had the stream."""

    index: int
    step: int
    buf: list[dict[str, Any]] = field(default_factory=list)
    flushing: bool = False


_CURRENT: contextvars.ContextVar[_StageOut | None] = contextvars.ContextVar(
    "build_stage", default=None
)
_STEP: contextvars.ContextVar[contextlib.AsyncExitStack | None] = contextvars.ContextVar(
    "build_step", default=None
)


class Builder:
    def __init__(
        self,
        containers: ContainerService,
        images: ImageService,
        commits: CommitService,
        cache: BuildCache,
        mount_all: Callable[[list[Any], str], None],
        unmount: Callable[[str], None],
    ) -> None:
        self.containers = containers
        self.images = images
        self.commits = commits
        self.cache = cache
        self.steps = StepLocks()  # one build of a step at a time, across stages and builds
        self._mount_all = mount_all
        self._unmount = unmount

    # -- the build ------------------------------------------------------------------

    async def build(self, df: Dockerfile, context: BuildContext, opts: BuildOptions,
                    emit: Emit) -> str:  # fmt: skip
        return await _Run(self, df, context, opts, emit).go()


class _Run:
    def __init__(
        self, b: Builder, df: Dockerfile, context: BuildContext, opts: BuildOptions, emit: Emit
    ) -> None:
        self.b = b
        self.df = df
        self.context = context
        self.opts = opts
        self._emit = emit
        self.esc = df.escape
        self.step = 0
        self.total = 0
        self.results: dict[int, _State] = {}
        self.used_args: set[str] = set()
        self.cachefrom: CacheFrom | None = None  # when the build names cache-from images

    async def out(self, text: str) -> None:
        if self.opts.quiet:
            return
        cur = _CURRENT.get()
        msg = {"stream": text}
        if cur is None or (self._head() == cur.index and not cur.flushing):
            await self._emit(msg)
        else:
            cur.buf.append(msg)

    def _head(self) -> int | None:
        return self.order[self.head_pos] if self.head_pos < len(self.order) else None

    def _next_step(self) -> int:
        cur = _CURRENT.get()
        if cur is None:
            self.step += 1
            return self.step
        cur.step += 1
        return cur.step

    async def _advance(self) -> None:
        """Hand the stream to the next stage in order, replaying what it buffered."""
        while self.head_pos < len(self.order) and self.done[self.order[self.head_pos]].is_set():
            self.head_pos += 1
            head = self._head()
            if head is not None:
                o = self.outs[head]
                o.flushing = True
                while o.buf:
                    await self._emit(o.buf.pop(0))
                o.flushing = False

    async def _run_stages(self, order: list[int], target: int) -> None:
        """Every needed stage at once; a stage waits only for the stages it uses."""
        self.order = order
        self.head_pos = 0
        self.done = {i: asyncio.Event() for i in order}
        self.outs: dict[int, _StageOut] = {}
        offset = self.step  # after the global ARGs
        for i in order:
            self.outs[i] = _StageOut(i, offset)
            offset += 1 + len(self.stages[i].instructions)
        self.step = offset

        async def one(i: int) -> None:
            _CURRENT.set(self.outs[i])
            await self._stage(self.stages[i], last=(i == target))
            self.done[i].set()
            await self._advance()

        tasks = {i: asyncio.create_task(one(i)) for i in order}
        try:
            failed = await stagefail.settle(order, tasks)
        except BaseException:
            for t in tasks.values():
                t.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            raise
        if failed is not None:
            for i in order[: order.index(failed) + 1]:  # what they said up to the error
                while self.outs[i].buf:
                    await self._emit(self.outs[i].buf.pop(0))
            exc = tasks[failed].exception()
            assert exc is not None
            raise exc

    async def go(self) -> str:
        if self.opts.cachefrom:
            sources = []
            for ref in self.opts.cachefrom:
                try:
                    sources.append(self.b.images.resolve(ref))
                except NotFound:
                    await self.out(f"[Warning] cache-from image {ref} not found, ignored\n")
            store = self.b.images.store
            self.cachefrom = CacheFrom(
                sources, lambda i: store.get(i).parent if store.exists(i) else "",
                self.b.commits.store_image,
            )  # fmt: skip
        global_args, stages = split_stages(self.df)
        self.stages = stages
        self.global_env: dict[str, str] = {}
        for ins in global_args:
            for name, value in self._arg_pairs(ins, self.global_env):
                v = self.opts.buildargs.get(name, value) if name in self.opts.buildargs else value
                if v is not None:
                    self.global_env[name] = v
                self.used_args.add(name)
        self.global_defaults = dict(self.global_env)
        target = len(stages) - 1
        if self.opts.target:
            found = [s.index for s in stages if s.name == self.opts.target.lower()]
            if not found:
                raise BuildError(f"failed to reach build target {self.opts.target} in Dockerfile")
            target = found[0]
        needed = self._needed(target)
        extra = 1 if self.opts.labels else 0
        self.total = sum(1 + len(stages[i].instructions) for i in needed) + extra
        self.total += len(global_args)
        for ins in global_args:  # steps of their own, as dockerd numbers them
            self.step += 1
            await self.out(f"Step {self.step}/{self.total} : {ins.original}\n")
        await self._run_stages(sorted(needed), target)
        state = self.results[target]
        if self.opts.labels:
            self.step += 1
            text = "LABEL " + " ".join(f"{k}={v}" for k, v in sorted(self.opts.labels.items()))
            await self.out(f"Step {self.step}/{self.total} : {text}\n")
            labels = dict(state.cc.get("Labels") or {})
            labels.update(self.opts.labels)
            new = copy.deepcopy(state.cc)
            new["Labels"] = labels
            await self._nop(state, new, text)
        unused = sorted(
            k for k in self.opts.buildargs if k not in self.used_args and k not in PROXY_ARGS
        )
        if unused:
            await self.out(
                f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n"
            )
        image_id = state.image_id
        if not image_id:
            raise BuildError("No image was generated. Is your Dockerfile empty?")
        await self._emit({"aux": {"ID": image_id}})
        if self.opts.quiet:
            await self._emit({"stream": image_id + "\n"})
        await self.out(f"Successfully built {image_id[7:19]}\n")
        for t in self.opts.tags:
            ref = _parse_tag(t)
            await self.b.images.tag(image_id, ref[0], ref[1])
            await self.out(f"Successfully tagged {_familiar(t)}\n")
        return image_id

    def _stage_ref(self, name: str, before: int) -> int | None:
        low = name.lower()
        for s in self.stages[:before]:
            if s.name == low:
                return s.index
        if name.isdigit() and int(name) < before:
            return int(name)
        return None

    def _needed(self, target: int) -> set[int]:
        need: set[int] = set()
        todo = [target]
        while todo:
            i = todo.pop()
            if i in need:
                continue
            need.add(i)
            s = self.stages[i]
            base = word(s.from_ins, s.base, self.global_env, self.esc)
            ref = self._stage_ref(base, i)
            if ref is not None:
                todo.append(ref)
            for ins in s.instructions:
                src = ins.flags.get("from") if ins.cmd == "COPY" else None
                if src:
                    ref = self._stage_ref(src, i)
                    if ref is not None:
                        todo.append(ref)
        return need

    # -- stages ---------------------------------------------------------------------

    async def _stage(self, stage: Stage, last: bool) -> None:
        ins = stage.from_ins
        await self.out(f"Step {self._next_step()}/{self.total} : {ins.original}\n")
        base = word(ins, stage.base, self.global_env, self.esc)
        plat = word(ins, stage.platform, self.global_env, self.esc) if stage.platform else ""
        if plat:
            os_, arch, _ = host_platform()
            want = plat.split("/")
            if want[0] != os_ or (len(want) > 1 and want[1] != arch):
                raise BuildError(
                    f"image platform {plat} does not match the host platform {os_}/{arch}: "
                    "only the host's platform can be built"
                )
        ref = self._stage_ref(base, stage.index)
        if ref is not None:
            await self.done[ref].wait()
            prev = self.results[ref]
            state = _State(prev.image_id, copy.deepcopy(prev.config), prev.snapshot)
        elif base.lower() == "scratch":
            state = _State("", {"config": {"Env": [DEFAULT_PATH]}}, None)
        else:
            if self.opts.pull:
                await self.b.images.pull(base)
            try:
                img = self.b.images.resolve(base)
            except NotFound:
                raise BuildError(
                    f"pull access denied for {base}, repository does not exist or may require "
                    "'docker login': the image is not in the local store and pulling is not "
                    "available"
                ) from None
            state = _State(img.id, copy.deepcopy(img.config), img.snapshot)
        if state.image_id:
            await self.out(f" ---> {state.image_id[7:19]}\n")
        triggers = list(state.cc.get("OnBuild") or [])
        if triggers:
            state.cc["OnBuild"] = None
            n = len(triggers)
            await self.out(f"# Executing {n} build trigger{'s' if n > 1 else ''}\n")
            for t in triggers:
                await self._dispatch(state, parse_line(t, ins.line, self.esc))
        for ins in stage.instructions:
            await self.out(f"Step {self._next_step()}/{self.total} : {ins.original}\n")
            await self._dispatch(state, ins)
        self.results[stage.index] = state

    # -- instructions ---------------------------------------------------------------

    def _arg_pairs(self, ins: Instruction, env: dict[str, str]) -> list[tuple[str, str | None]]:
        out = []
        for raw in ins.args:
            name, sep, _ = raw.partition("=")
            value = word(ins, raw, env, self.esc).partition("=")[2] if sep else None
            if not name:
                raise DockerfileError("ARG names can not be blank", ins.line)
            out.append((name, value))
        return out

    async def _dispatch(self, st: _State, ins: Instruction) -> None:
        """One step; the cache key it looks up stays held (`StepLocks`) to its end."""
        async with contextlib.AsyncExitStack() as stack:
            token = _STEP.set(stack)
            try:
                await self._step(st, ins)
            finally:
                _STEP.reset(token)

    async def _lookup(self, st: _State, key: str, created_by: str,
                      result: dict[str, Any]) -> str | None:  # fmt: skip
        stack = _STEP.get()
        if stack is not None:
            held = self.b.steps.hold(BuildCache.key(st.image_id or "scratch", key))
            await stack.enter_async_context(held)
        return self._cached(st, key, created_by, result)

    async def _step(self, st: _State, ins: Instruction) -> None:
        cmd = ins.cmd
        env = st.env()
        args = expand(ins, env, self.esc)
        cc = copy.deepcopy(st.cc)
        if cmd == "RUN":
            await self._run(st, ins)
            return
        if cmd in ("COPY", "ADD"):
            await self._copy(st, ins, args, env)
            return
        if cmd == "ARG":
            texts = []
            for name, value in self._arg_pairs(ins, env):
                if name in self.opts.buildargs:
                    v = self.opts.buildargs[name]
                elif value is None and name in self.global_defaults:
                    v = self.global_defaults[name]
                else:
                    v = value
                st.args[name] = v
                self.used_args.add(name)
                texts.append(f"{name}={value}" if value is not None else name)
            await self._nop(st, cc, "ARG " + " ".join(texts))
            return
        if cmd == "ENV":
            pairs = list(zip(args[::2], args[1::2], strict=True))
            envl = list(cc.get("Env") or [])
            for k, v in pairs:
                envl = replace_or_append_env(envl, f"{k}={v}")
            cc["Env"] = envl
            msg = "ENV " + " ".join(f"{k}={v}" for k, v in pairs)
        elif cmd == "LABEL":
            pairs = list(zip(args[::2], args[1::2], strict=True))
            labels = dict(cc.get("Labels") or {})
            labels.update(pairs)
            cc["Labels"] = labels
            msg = "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)
        elif cmd in ("CMD", "ENTRYPOINT"):
            argv = ins.args if ins.json else (self._shell(cc) + ins.args if ins.args else [])
            if cmd == "CMD":
                cc["Cmd"] = argv
                st.cmd_set = True
            else:
                cc["Entrypoint"] = argv or None
                if not st.cmd_set:
                    cc["Cmd"] = None
            msg = f"{cmd} {_go_quote(argv)}"
        elif cmd == "WORKDIR":
            if not args or not args[0]:
                raise DockerfileError("WORKDIR requires exactly one argument", ins.line)
            cc["WorkingDir"] = posixpath.normpath(
                posixpath.join(cc.get("WorkingDir") or "/", args[0])
            )
            await self._workdir(st, cc)
            return
        elif cmd == "USER":
            if not args or not args[0]:
                raise DockerfileError("USER requires exactly one argument", ins.line)
            cc["User"] = args[0]
            msg = f"USER {args[0]}"
        elif cmd == "EXPOSE":
            ports = dict(cc.get("ExposedPorts") or {})
            for a in args:
                for p in change_rules._expand_port(a):
                    ports[p] = {}
            cc["ExposedPorts"] = ports
            msg = "EXPOSE " + " ".join(sorted(args))
        elif cmd == "VOLUME":
            if not args or any(not a.strip() for a in args):
                raise DockerfileError("VOLUME specified can not be an empty string", ins.line)
            vols = dict(cc.get("Volumes") or {})
            for a in args:
                vols[a] = {}
            cc["Volumes"] = vols
            msg = f"VOLUME [{' '.join(args)}]"
        elif cmd == "STOPSIGNAL":
            if len(args) != 1:
                raise DockerfileError("STOPSIGNAL requires exactly one argument", ins.line)
            cc["StopSignal"] = args[0]
            msg = f"STOPSIGNAL {args[0]}"
        elif cmd == "SHELL":
            cc["Shell"] = list(ins.args)
            msg = f"SHELL [{' '.join(ins.args)}]"
        elif cmd == "HEALTHCHECK":
            cc["Healthcheck"] = self._healthcheck(ins, cc)
            msg = f"HEALTHCHECK {_go_healthcheck(cc['Healthcheck'])}"
        elif cmd == "ONBUILD":
            cc["OnBuild"] = [*(cc.get("OnBuild") or []), ins.args[0]]
            msg = f"ONBUILD {ins.args[0]}"
        elif cmd == "MAINTAINER":
            st.author = args[0] if args else ""
            msg = f"MAINTAINER {st.author}"
        else:
            raise DockerfileError(f"unknown instruction: {cmd}", ins.line)
        await self._nop(st, cc, msg)

    def _shell(self, cc: dict[str, Any]) -> list[str]:
        return list(cc.get("Shell") or DEFAULT_SHELL)

    def _healthcheck(self, ins: Instruction, cc: dict[str, Any]) -> dict[str, Any]:
        if ins.args == ["NONE"]:
            if ins.flags:
                raise DockerfileError("HEALTHCHECK NONE takes no arguments", ins.line)
            return {"Test": ["NONE"]}
        argv = ins.args[1:]
        test = ["CMD", *argv] if ins.json else ["CMD-SHELL", argv[0]]
        hc: dict[str, Any] = {"Test": test}
        keys = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod",
                "start-interval": "StartInterval"}  # fmt: skip
        for flag, val in ins.flags.items():
            if flag == "retries":
                try:
                    hc["Retries"] = int(val)
                except ValueError:
                    raise DockerfileError(f'invalid retries value "{val}"', ins.line) from None
            else:
                try:
                    hc[keys[flag]] = change_rules._duration_ns(val)
                except InvalidParameter as exc:
                    raise DockerfileError(exc.message, ins.line) from None
        return hc

    # -- committing -----------------------------------------------------------------

    def _cached(
        self, st: _State, key: str, created_by: str = "", result: dict[str, Any] | None = None
    ) -> str | None:
        if self.opts.nocache:
            return None
        image_id = self.b.cache.get(st.image_id or "scratch", key)
        if image_id and self.b.images.store.exists(image_id):
            if self.cachefrom is None or self.cachefrom.local_ok(image_id):
                return image_id
        if self.cachefrom is not None and created_by and result is not None:
            image_id = self.cachefrom.match(st.config, st.image_id, created_by, result)
            if image_id:
                self.b.cache.put(st.image_id or "scratch", key, image_id)
            return image_id
        return None

    async def _use(self, st: _State, image_id: str) -> None:
        img = self.b.images.store.get(image_id)
        st.image_id, st.config, st.snapshot = img.id, copy.deepcopy(img.config), img.snapshot
        await self.out(f" ---> {image_id[7:19]}\n")

    async def _nop(self, st: _State, cc: dict[str, Any], msg: str) -> None:
        created_by = " ".join([*self._shell(cc), "#(nop) ", msg])
        key = created_by + "\n" + json.dumps(cc, sort_keys=True) + "\n" + st.author
        hit = await self._lookup(st, key, created_by, cc)
        if hit:
            await self.out(" ---> Using cache\n")
            await self._use(st, hit)
            return
        cc["Image"] = st.image_id
        cfg = image_config(st.config, cc, created_by, None, author=st.author)
        image_id = await asyncio.to_thread(self.b.commits.store_image, cfg, st.image_id)
        self.b.cache.put(st.image_id or "scratch", key, image_id)
        await self._use(st, image_id)

    async def _commit_layer(
        self,
        st: _State,
        key: str,
        created_by: str,
        layer_from: Callable[[], Any],
        before_use: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        layer = await asyncio.to_thread(layer_from)
        cc = copy.deepcopy(st.cc)
        cc["Image"] = st.image_id
        diff_id = layer.diff_id if layer is not None else None
        cfg = image_config(st.config, cc, created_by, diff_id, author=st.author)
        image_id = await asyncio.to_thread(self.b.commits.store_image, cfg, st.image_id)
        self.b.cache.put(st.image_id or "scratch", key, image_id)
        if before_use is not None:
            await before_use()
        await self._use(st, image_id)

    async def _workdir(self, st: _State, cc: dict[str, Any]) -> None:
        """WORKDIR creates the directory: a layer (dockerd's), empty when it existed."""
        workdir = cc["WorkingDir"]
        created_by = " ".join([*self._shell(cc), "#(nop)", f"WORKDIR {workdir}"])
        key = created_by + "\n" + json.dumps(cc, sort_keys=True) + "\n" + st.author
        hit = await self._lookup(st, key, created_by, cc)
        if hit:
            await self.out(" ---> Using cache\n")
            await self._use(st, hit)
            return
        st.config["config"] = cc
        snap = st.snapshot

        def work() -> Any:
            return self._copy_layer(snap, [], workdir + "/", "/", "", None, False, "WORKDIR", [],
                                    mkdir=workdir)  # fmt: skip

        await self._commit_layer(st, key, created_by, work)

    # -- RUN ------------------------------------------------------------------------

    async def _run(self, st: _State, ins: Instruction) -> None:
        cc = st.cc
        if ins.heredocs and ins.args and ins.args[0].startswith("<<") and len(ins.heredocs) == 1:
            h = ins.heredocs[0]
            argv = self._shell(cc) + [h.content]
        elif ins.heredocs:
            script = ins.rest + "\n" + "".join(h.content + h.name + "\n" for h in ins.heredocs)
            argv = self._shell(cc) + [script]
        elif ins.json:
            argv = list(ins.args)
        else:
            argv = self._shell(cc) + list(ins.args)
        if not argv:
            raise DockerfileError("RUN requires at least one argument", ins.line)
        runstep.refuse_flags(ins.flags)
        build_env, named = runstep.run_env(st.args, self.opts.buildargs, cc.get("Env") or [])
        created_by = runstep.created_by(argv, named)
        key = created_by + "\n" + json.dumps(cc, sort_keys=True)
        hit = await self._lookup(st, key, created_by, cc)
        if hit:
            await self.out(" ---> Using cache\n")
            await self._use(st, hit)
            return
        if not st.image_id:
            raise BuildError(
                f"The command '{' '.join(argv)}' returned a non-zero code: 127: "
                "no image to run it in (FROM scratch has no shell)",
                127,
            )
        # dockerd's classic builder passes --network through as the step's
        # NetworkMode: "" and "default" are the daemon's default bridge
        host_config: dict[str, Any] = {
            "ExtraHosts": list(self.opts.extrahosts) or None,
            "NetworkMode": self.opts.networkmode or "default",
            **self.opts.resources,
        }
        body = {
            "Image": st.image_id,
            "Cmd": argv,
            "Entrypoint": [],
            "Env": build_env,
            "AttachStdout": True,
            "AttachStderr": True,
            "HostConfig": host_config,
        }
        cs = self.b.containers
        cid, _ = cs.create(None, body)
        ok = False
        try:
            await self.out(f" ---> Running in {cid[:12]}\n")
            c = cs.get(cid)
            q = cs.subscribe(c)
            try:
                # A cancelled build (another stage failed) must not cut a start
                # short: let it finish so the removal below can kill the process.
                starting = asyncio.ensure_future(cs.start(cid))
                try:
                    await asyncio.shield(starting)
                except asyncio.CancelledError:
                    with contextlib.suppress(Exception):
                        await starting
                    raise
                while True:
                    frame = await q.get()
                    if frame is None:
                        break
                    await self.out(runstep.stream_text(frame.stream, frame.data))
            finally:
                cs.unsubscribe(c, q)
            status = (await cs.wait(cid))["StatusCode"]
            if status != 0:
                raise BuildError(
                    f"The command '{' '.join(argv)}' returned a non-zero code: {status}", status
                )
            snap = st.snapshot

            async def remove_first() -> None:
                nonlocal ok
                ok = True
                if self.opts.rm:
                    await cs.remove(cid, force=True)
                    await self.out(f"Removing intermediate container {cid[:12]}\n")

            await self._commit_layer(
                st, key, created_by, lambda: self._run_layer(cid, snap), remove_first
            )
        except DockyardError as exc:
            if isinstance(exc, BuildError):
                raise
            raise BuildError(exc.message) from None
        finally:
            if not ok and (self.opts.forcerm or self.opts.rm):
                await cs.remove(cid, force=True)
                await self.out(f"Removing intermediate container {cid[:12]}\n")

    def _run_layer(self, cid: str, parent: str | None) -> Any:
        """The RUN container's changes; None (an empty layer, as dockerd) when there are none.
        The empty mount points of /etc/hosts, /etc/hostname and /etc/resolv.conf the
        container service leaves in the upper dir are not part of the step (dockerd
        keeps them in its init layer)."""
        rootfs = self.b.containers.paths.rootfs(cid)
        if os.path.ismount(rootfs):
            self.b._unmount(rootfs)
        upper = upper_dir(self.b.images.snapshotter.mounts(cid))
        _strip_mount_stubs(upper)
        if not os.listdir(upper):
            return None
        return self.b.commits.layer_of(cid, parent)

    # -- COPY / ADD -----------------------------------------------------------------

    async def _copy(
        self, st: _State, ins: Instruction, args: list[str], env: dict[str, str]
    ) -> None:
        flags = expand_flags(ins, env, self.esc)
        if len(args) < 2:
            raise DockerfileError(f"{ins.cmd} requires at least two arguments", ins.line)
        srcs, dest = args[:-1], args[-1]
        heredocs = {h.name: h for h in ins.heredocs}
        chmod = None
        if flags.get("chmod"):
            try:
                chmod = int(flags["chmod"], 8)
            except ValueError:
                raise BuildError(f"invalid chmod parameter: {flags['chmod']}") from None
        src_root, fs, known = self.context.root, self.context.fs, self.context.known
        cleanup: Callable[[], None] | None = None
        from_ref = flags.get("from", "")
        if ins.cmd == "ADD" and "from" in flags:
            raise DockerfileError("unknown flag: from", ins.line)
        if from_ref:
            src_root, cleanup = await self._source_root(from_ref, ins)
            fs, known = HOST, {}
        try:
            plain = [s for s in srcs if not s.startswith("<<")]
            for s in plain:
                if s.startswith(("http://", "https://")) or "://" in s:
                    if ins.cmd == "COPY":
                        raise BuildError("COPY failed: source can't be a URL for COPY")
                    raise BuildError(
                        f"ADD failed: cannot fetch {s}: this builder does not download URLs "
                        "(no network access from the daemon); download it into the context"
                    )
            try:
                found: list[tuple[str, str]] = []
                for s in plain:
                    found += fcopy.glob_sources(src_root, s, fs)
            except fcopy.CopyError as exc:
                raise BuildError(f"{ins.cmd} failed: {exc}") from None
            digest = await asyncio.to_thread(checksum, found, fs, known) if found else ""
            hd = "".join(f"{h.name}\0{h.content}" for h in ins.heredocs)
            kind = "dir" if len(found) == 1 and is_dir(fs, found[0][0]) else "file"
            if len(found) + len(heredocs) > 1:
                kind = "multi"
            import hashlib

            if hd:
                digest = hashlib.sha256((digest + hd).encode()).hexdigest()
            chown_note = f"--chown={flags['chown']}" if flags.get("chown") else ""
            created_by = (
                f"{' '.join(DEFAULT_SHELL)} #(nop) {ins.cmd} {chown_note}{kind}:{digest} in {dest} "
            )
            key = (
                created_by
                + "\n"
                + json.dumps([flags, st.cc.get("WorkingDir"), st.cc.get("User")], sort_keys=True)
            )
            hit = await self._lookup(st, key, created_by, st.cc)
            if hit:
                await self.out(" ---> Using cache\n")
                await self._use(st, hit)
                return
            workdir = st.cc.get("WorkingDir") or "/"
            extract = ins.cmd == "ADD"
            contents = [
                (h.name, expand_heredoc(h.content, env, self.esc) if h.expand else h.content)
                for h in ins.heredocs
            ]
            snap = st.snapshot
            chown = flags.get("chown", "")
            if found and not from_ref:  # a miss needs the files it copies
                await asyncio.to_thread(self.context.unpack, [host for host, _ in found])

            def work() -> Any:
                return self._copy_layer(
                    snap, found, dest, workdir, chown, chmod, extract, ins.cmd, contents
                )

            try:
                await self._commit_layer(st, key, created_by, work)
            except fcopy.CopyError as exc:
                raise BuildError(f"{ins.cmd} failed: {exc}") from None
        finally:
            if cleanup:
                await asyncio.to_thread(cleanup)

    def _copy_layer(
        self,
        parent: str | None,
        found: list[tuple[str, str]],
        dest: str,
        workdir: str,
        chown: str,
        chmod: int | None,
        extract: bool,
        cmd: str,
        heredocs: list[tuple[str, str]],
        mkdir: str = "",
    ) -> Any:
        sn = self.b.images.snapshotter
        key = f"build-{uuid.uuid4().hex}"
        mounts = sn.prepare(key, parent)
        target = tempfile.mkdtemp(prefix="build-mnt-", dir=self.b.images.paths.tmp)
        try:
            self.b._mount_all(mounts, target)
            try:
                uid, gid = _resolve_chown(target, chown) if chown else (None, None)
                if mkdir:
                    fcopy.mkdir_in_root(target, mkdir)
                fcopy.copy(target, found, dest, workdir, uid=uid, gid=gid, chmod=chmod,
                           extract=extract, instruction=cmd) if found else None  # fmt: skip
                for name, content in heredocs:
                    d = dest + name if dest.endswith("/") else dest
                    fcopy.write_file(target, d, workdir, content.encode(), uid, gid, chmod)
            finally:
                self.b._unmount(target)
            if not os.listdir(upper_dir(mounts)):
                return None  # nothing changed: an empty layer
            return self.b.commits.layer_of(key, parent)
        finally:
            os.rmdir(target)
            try:
                sn.remove(key)
            except NotFound:
                pass

    async def _source_root(self, ref: str, ins: Instruction) -> tuple[str, Callable[[], None]]:
        idx = self._stage_ref(ref, len(self.stages))
        if idx is not None:
            if idx in self.done:
                await self.done[idx].wait()
            if idx not in self.results:
                raise BuildError(f"COPY --from={ref}: stage {ref} is not built before this step")
            snap = self.results[idx].snapshot
        else:
            try:
                snap = self.b.images.resolve(ref).snapshot
            except NotFound:
                raise BuildError(
                    f"COPY --from={ref}: invalid from flag value {ref}: no such image or stage"
                ) from None
        sn = self.b.images.snapshotter
        key = f"build-view-{uuid.uuid4().hex}"
        target = tempfile.mkdtemp(prefix="build-from-", dir=self.b.images.paths.tmp)

        def setup() -> None:
            if snap is None:
                return
            mounts = sn.view(key, snap)
            self.b._mount_all(mounts, target)

        def cleanup() -> None:
            if snap is not None:
                self.b._unmount(target)
                try:
                    sn.remove(key)
                except NotFound:
                    pass
            shutil.rmtree(target, ignore_errors=True)

        await asyncio.to_thread(setup)
        return target, cleanup


def _strip_mount_stubs(upper: str) -> None:
    etc = os.path.join(upper, "etc")
    if not os.path.isdir(etc) or os.path.islink(etc):
        return
    for name in ("hosts", "hostname", "resolv.conf"):
        p = os.path.join(etc, name)
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_size == 0:
            os.unlink(p)
    try:
        opaque = os.getxattr(etc, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        opaque = False
    if not os.listdir(etc) and not opaque:
        os.rmdir(etc)


def _resolve_chown(root: str, spec: str) -> tuple[int, int]:
    user, _, group = spec.partition(":")

    def lookup(path: str, name: str, field_idx: int) -> int | None:
        if name.isdigit():
            return int(name)
        try:
            with open_in_root(root, path) as f:
                for line in f.read().decode(errors="replace").splitlines():
                    parts = line.split(":")
                    if len(parts) > field_idx and parts[0] == name:
                        return int(parts[field_idx])
        except (FileNotFoundError, NotADirectoryError):
            pass
        return None

    uid = lookup("/etc/passwd", user, 2)
    if uid is None:
        raise fcopy.CopyError(f"unable to find user {user}: no matching entries in passwd file")
    if group:
        gid = lookup("/etc/group", group, 2)
        if gid is None:
            raise fcopy.CopyError(
                f"unable to find group {group}: no matching entries in group file"
            )
    else:
        gid = uid if user.isdigit() else (lookup("/etc/passwd", user, 3) or 0)
    return uid, gid


def _go_duration(ns: int) -> str:
    """Go's time.Duration.String() for the values a HEALTHCHECK takes."""
    if ns == 0:
        return "0s"
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return f"{ns / size:g}{unit}"
    s = ns / 1e9
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    out = ""
    if h:
        out += f"{int(h)}h"
    if h or m:
        out += f"{int(m)}m"
    return out + f"{sec:g}s"


def _go_healthcheck(hc: dict[str, Any]) -> str:
    """dockerd's `%v` of a *HealthConfig in the HEALTHCHECK history line."""
    test = "[" + " ".join(json.dumps(t) for t in hc.get("Test") or []) + "]"
    durs = " ".join(
        f'"{_go_duration(int(hc.get(k) or 0))}"' for k in ("Interval", "Timeout", "StartPeriod")
    )
    retries = int(hc.get("Retries") or 0)
    rune = f"'\\x{retries:02x}'" if retries < 0x20 else repr(chr(retries))
    return f"&{{{test} {durs} {rune}}}"


def _go_quote(argv: list[str]) -> str:
    return "[" + " ".join(json.dumps(a) for a in argv) + "]"


def _parse_tag(t: str) -> tuple[str, str]:
    from dockyard.proto import reference as refs

    ref = refs.parse_normalized(t)
    return ref.familiar_name, ref.tag or "latest"


def _familiar(t: str) -> str:
    from dockyard.proto import reference as refs

    ref = refs.parse_normalized(t)
    return f"{ref.familiar_name}:{ref.tag or 'latest'}"
