"""One build: the stages the target needs, run at once (a stage waits only for
the stages it uses), each step dispatched to its instruction and committed as
an image, or taken from the cache.

A step hits the cache when (parent id, key) was built before (`BuildCache`,
which survives restarts; the key is the step's created_by and the config it
runs under); with `--cache-from`, `CacheFrom` decides which hits count. Config
instructions go through the one engine `dockerfile.config` (shared with
`--change`); RUN and COPY/ADD have modules of their own (`runexec`, `copystep`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.api.errors import NotFound
from dockyard.builder import copystep, runexec, stagefail
from dockyard.builder.cache import BuildCache
from dockyard.builder.cachefrom import CacheFrom
from dockyard.builder.context import BuildContext
from dockyard.builder.errors import BuildError
from dockyard.builder.state import DEFAULT_PATH, BuildOptions, Emit, StepState
from dockyard.builder.stream import StageStreams
from dockyard.dockerfile import config as config_rules
from dockyard.dockerfile.parser import Dockerfile, DockerfileError, Instruction, parse_line
from dockyard.dockerfile.stages import PROXY_ARGS, Stage, expand, split_stages, word
from dockyard.proto.image import host_platform, image_config

if TYPE_CHECKING:
    from dockyard.builder.builder import Builder

_STEP: contextvars.ContextVar[contextlib.AsyncExitStack | None] = contextvars.ContextVar(
    "build_step", default=None
)


@dataclass(eq=False)
class BuildRun:
    b: Builder
    df: Dockerfile
    context: BuildContext
    opts: BuildOptions
    emit: Emit
    total: int = field(default=0, init=False)
    results: dict[int, StepState] = field(default_factory=dict, init=False)
    used_args: set[str] = field(default_factory=set, init=False)
    # when the build names cache-from images
    cachefrom: CacheFrom | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.streams = StageStreams(self.emit, self.opts.quiet)
        self.esc = self.df.escape

    async def out(self, text: str) -> None:
        await self.streams.out(text)

    async def _run_stages(self, order: list[int], target: int) -> None:
        """Every needed stage at once; a stage waits only for the stages it uses."""
        self.streams.begin(order, {i: 1 + len(self.stages[i].instructions) for i in order})

        async def one(i: int) -> None:
            self.streams.enter(i)
            await self._stage(self.stages[i], last=(i == target))
            await self.streams.finished(i)

        tasks = {i: asyncio.create_task(one(i)) for i in order}
        try:
            failed = await stagefail.settle(order, tasks)
        except BaseException:
            for t in tasks.values():
                t.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            raise
        if failed is not None:
            await self.streams.flush_through(failed)
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
                self.b.layers.store_image,
            )  # fmt: skip
        global_args, stages = split_stages(self.df)
        self.stages = stages
        self.global_env: dict[str, str] = {}
        for ins in global_args:
            for name, value in self.arg_pairs(ins, self.global_env):
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
            await self.out(f"Step {self.streams.next_step()}/{self.total} : {ins.original}\n")
        await self._run_stages(sorted(needed), target)
        state = self.results[target]
        if self.opts.labels:
            text = "LABEL " + " ".join(f"{k}={v}" for k, v in sorted(self.opts.labels.items()))
            await self.out(f"Step {self.streams.next_step()}/{self.total} : {text}\n")
            labels = dict(state.cc.get("Labels") or {})
            labels.update(self.opts.labels)
            new = copy.deepcopy(state.cc)
            new["Labels"] = labels
            await self.nop(state, new, text)
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
        await self.emit({"aux": {"ID": image_id}})
        if self.opts.quiet:
            await self.emit({"stream": image_id + "\n"})
        await self.out(f"Successfully built {image_id[7:19]}\n")
        for t in self.opts.tags:
            ref = _parse_tag(t)
            await self.b.images.tag(image_id, ref[0], ref[1])
            await self.out(f"Successfully tagged {_familiar(t)}\n")
        return image_id

    def stage_ref(self, name: str, before: int) -> int | None:
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
            ref = self.stage_ref(base, i)
            if ref is not None:
                todo.append(ref)
            for ins in s.instructions:
                src = ins.flags.get("from") if ins.cmd == "COPY" else None
                if src:
                    ref = self.stage_ref(src, i)
                    if ref is not None:
                        todo.append(ref)
        return need

    async def stage_done(self, index: int) -> StepState | None:
        """Stage `index`'s result, once it is built (None if it is not part of this build)."""
        if index in self.streams.done:
            await self.streams.done[index].wait()
        return self.results.get(index)

    # -- stages ---------------------------------------------------------------------

    async def _stage(self, stage: Stage, last: bool) -> None:
        ins = stage.from_ins
        await self.out(f"Step {self.streams.next_step()}/{self.total} : {ins.original}\n")
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
        ref = self.stage_ref(base, stage.index)
        if ref is not None:
            prev = await self.stage_done(ref)
            assert prev is not None
            state = StepState(prev.image_id, copy.deepcopy(prev.config), prev.snapshot)
        elif base.lower() == "scratch":
            state = StepState("", {"config": {"Env": [DEFAULT_PATH]}}, None)
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
            state = StepState(img.id, copy.deepcopy(img.config), img.snapshot)
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
            await self.out(f"Step {self.streams.next_step()}/{self.total} : {ins.original}\n")
            await self._dispatch(state, ins)
        self.results[stage.index] = state

    # -- instructions ---------------------------------------------------------------

    def arg_pairs(self, ins: Instruction, env: dict[str, str]) -> list[tuple[str, str | None]]:
        out = []
        for raw in ins.args:
            name, sep, _ = raw.partition("=")
            value = word(ins, raw, env, self.esc).partition("=")[2] if sep else None
            if not name:
                raise DockerfileError("ARG names can not be blank", ins.line)
            out.append((name, value))
        return out

    async def _dispatch(self, st: StepState, ins: Instruction) -> None:
        """One step; the cache key it looks up stays held (`StepLocks`) to its end."""
        async with contextlib.AsyncExitStack() as stack:
            token = _STEP.set(stack)
            try:
                await self._step(st, ins)
            finally:
                _STEP.reset(token)

    async def lookup(self, st: StepState, key: str, created_by: str,
                     result: dict[str, Any]) -> str | None:  # fmt: skip
        stack = _STEP.get()
        if stack is not None:
            held = self.b.steps.hold(BuildCache.key(st.image_id or "scratch", key))
            await stack.enter_async_context(held)
        return self._cached(st, key, created_by, result)

    async def _step(self, st: StepState, ins: Instruction) -> None:
        cmd = ins.cmd
        env = st.env()
        if cmd == "RUN":
            await runexec.run_instruction(self, st, ins)
        elif cmd in ("COPY", "ADD"):
            await copystep.copy_instruction(self, st, ins, expand(ins, env, self.esc), env)
        elif cmd == "ARG":
            await self._arg(st, ins, env)
        elif cmd in config_rules.CONFIG_INSTRUCTIONS:
            cs = config_rules.ConfigState(copy.deepcopy(st.cc), st.cmd_set, st.author)
            msg = config_rules.apply(cs, ins, env, self.esc)
            st.cmd_set, st.author = cs.cmd_set, cs.author
            if cmd == "WORKDIR":
                await self._workdir(st, cs.config)
            else:
                await self.nop(st, cs.config, msg)
        else:
            raise DockerfileError(f"unknown instruction: {cmd}", ins.line)

    async def _arg(self, st: StepState, ins: Instruction, env: dict[str, str]) -> None:
        texts = []
        for name, value in self.arg_pairs(ins, env):
            if name in self.opts.buildargs:
                v = self.opts.buildargs[name]
            elif value is None and name in self.global_defaults:
                v = self.global_defaults[name]
            else:
                v = value
            st.args[name] = v
            self.used_args.add(name)
            texts.append(f"{name}={value}" if value is not None else name)
        await self.nop(st, copy.deepcopy(st.cc), "ARG " + " ".join(texts))

    # -- committing -----------------------------------------------------------------

    def _cached(
        self, st: StepState, key: str, created_by: str = "", result: dict[str, Any] | None = None
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

    async def use(self, st: StepState, image_id: str) -> None:
        img = self.b.images.store.get(image_id)
        st.image_id, st.config, st.snapshot = img.id, copy.deepcopy(img.config), img.snapshot
        await self.out(f" ---> {image_id[7:19]}\n")

    async def _config_hit(self, st: StepState, cc: dict[str, Any], created_by: str) -> str | None:
        """The key of a step that ends in config `cc`; None once a cached image was used."""
        key = created_by + "\n" + json.dumps(cc, sort_keys=True) + "\n" + st.author
        hit = await self.lookup(st, key, created_by, cc)
        if not hit:
            return key
        await self.out(" ---> Using cache\n")
        await self.use(st, hit)
        return None

    async def nop(self, st: StepState, cc: dict[str, Any], msg: str) -> None:
        created_by = " ".join([*config_rules.shell(cc), "#(nop) ", msg])
        key = await self._config_hit(st, cc, created_by)
        if key is None:
            return
        cc["Image"] = st.image_id
        cfg = image_config(st.config, cc, created_by, None, author=st.author)
        image_id = await asyncio.to_thread(self.b.layers.store_image, cfg, st.image_id)
        self.b.cache.put(st.image_id or "scratch", key, image_id)
        await self.use(st, image_id)

    async def commit_layer(
        self,
        st: StepState,
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
        image_id = await asyncio.to_thread(self.b.layers.store_image, cfg, st.image_id)
        self.b.cache.put(st.image_id or "scratch", key, image_id)
        if before_use is not None:
            await before_use()
        await self.use(st, image_id)

    async def _workdir(self, st: StepState, cc: dict[str, Any]) -> None:
        """WORKDIR creates the directory: a layer (dockerd's), empty when it existed."""
        workdir = cc["WorkingDir"]
        created_by = " ".join([*config_rules.shell(cc), "#(nop)", f"WORKDIR {workdir}"])
        key = await self._config_hit(st, cc, created_by)
        if key is None:
            return
        st.config["config"] = cc
        snap = st.snapshot

        def work() -> Any:
            return copystep.copy_layer(self.b, snap, [], workdir + "/", "/", "", None, False,
                                       "WORKDIR", [], mkdir=workdir)  # fmt: skip

        await self.commit_layer(st, key, created_by, work)


def _parse_tag(t: str) -> tuple[str, str]:
    from dockyard.proto import reference as refs

    ref = refs.parse_normalized(t)
    return ref.familiar_name, ref.tag or "latest"


def _familiar(t: str) -> str:
    from dockyard.proto import reference as refs

    ref = refs.parse_normalized(t)
    return f"{ref.familiar_name}:{ref.tag or 'latest'}"
