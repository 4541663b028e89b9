"""RUN: the step's container (through the `StepRunner` the daemon wires in),
its output in the build's stream, and its changes committed as the step's
layer. The rules about what the step gets and is recorded under (environment,
history line, refused flags) are `runstep`'s.
"""

from __future__ import annotations

import json
import os
import stat
from typing import TYPE_CHECKING, Any

from dockyard.api.errors import DockyardError
from dockyard.builder import runstep
from dockyard.builder.errors import BuildError
from dockyard.builder.state import StepState
from dockyard.dockerfile.config import shell
from dockyard.dockerfile.parser import DockerfileError, Instruction
from dockyard.snapshot.snapshotter import upper_dir

if TYPE_CHECKING:
    from dockyard.builder.builder import Builder
    from dockyard.builder.run import BuildRun


def _argv(st: StepState, ins: Instruction) -> list[str]:
    cc = st.cc
    if ins.heredocs and ins.args and ins.args[0].startswith("<<") and len(ins.heredocs) == 1:
        return shell(cc) + [ins.heredocs[0].content]
    if ins.heredocs:
        script = ins.rest + "\n" + "".join(h.content + h.name + "\n" for h in ins.heredocs)
        return shell(cc) + [script]
    if ins.json:
        return list(ins.args)
    return shell(cc) + list(ins.args)


async def run_instruction(r: BuildRun, st: StepState, ins: Instruction) -> None:
    cc = st.cc
    argv = _argv(st, ins)
    if not argv:
        raise DockerfileError("RUN requires at least one argument", ins.line)
    runstep.refuse_flags(ins.flags)
    build_env, named = runstep.run_env(st.args, r.opts.buildargs, cc.get("Env") or [])
    created_by = runstep.created_by(argv, named)
    key = created_by + "\n" + json.dumps(cc, sort_keys=True)
    hit = await r.lookup(st, key, created_by, cc)
    if hit:
        await r.out(" ---> Using cache\n")
        await r.use(st, hit)
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
        "ExtraHosts": list(r.opts.extrahosts) or None,
        "NetworkMode": r.opts.networkmode or "default",
        **r.opts.resources,
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
    steps = r.b.runner
    cid = steps.create(body)
    ok = False

    async def output(stream: int, data: bytes) -> None:
        await r.out(runstep.stream_text(stream, data))

    async def remove() -> None:
        await steps.remove(cid)
        await r.out(f"Removing intermediate container {cid[:12]}\n")

    try:
        await r.out(f" ---> Running in {cid[:12]}\n")
        status = await steps.run(cid, output)
        if status != 0:
            raise BuildError(
                f"The command '{' '.join(argv)}' returned a non-zero code: {status}", status
            )
        snap = st.snapshot

        async def remove_first() -> None:
            nonlocal ok
            ok = True
            if r.opts.rm:
                await remove()

        await r.commit_layer(st, key, created_by, lambda: _run_layer(r.b, cid, snap), remove_first)
    except DockyardError as exc:
        if isinstance(exc, BuildError):
            raise
        raise BuildError(exc.message) from None
    finally:
        if not ok and (r.opts.forcerm or r.opts.rm):
            await remove()


def _run_layer(b: Builder, cid: str, parent: str | None) -> Any:
    """The RUN container's changes; None (an empty layer, as dockerd) when there are none.
    The empty mount points of /etc/hosts, /etc/hostname and /etc/resolv.conf the
    container service leaves in the upper dir are not part of the step (dockerd
    keeps them in its init layer)."""
    b.runner.release_rootfs(cid)
    upper = upper_dir(b.snapshotter.mounts(cid))
    _strip_mount_stubs(upper)
    if not os.listdir(upper):
        return None
    return b.layers.layer_of(cid, parent)


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
