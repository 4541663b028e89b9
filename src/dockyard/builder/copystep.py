"""COPY and ADD (and WORKDIR's directory): a fresh snapshot of the parent is
mounted, the sources (from the context, an earlier stage or an image) are
copied into it by `builder.copy`, and its upper dir becomes the step's layer.
The cache key carries the sources' content checksum, as dockerd's does.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dockyard.api.errors import NotFound
from dockyard.builder import copy as fcopy
from dockyard.builder.ctxsum import checksum
from dockyard.builder.errors import BuildError
from dockyard.builder.fsview import HOST, is_dir
from dockyard.builder.state import StepState
from dockyard.dockerfile.config import DEFAULT_SHELL
from dockyard.dockerfile.parser import DockerfileError, Instruction
from dockyard.dockerfile.shell import expand_heredoc
from dockyard.dockerfile.stages import expand_flags
from dockyard.rootpath import open_in_root
from dockyard.snapshot.snapshotter import upper_dir

if TYPE_CHECKING:
    from dockyard.builder.builder import Builder
    from dockyard.builder.run import BuildRun


async def copy_instruction(
    r: BuildRun, st: StepState, ins: Instruction, args: list[str], env: dict[str, str]
) -> None:
    flags = expand_flags(ins, env, r.esc)
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
    src_root, fs, known = r.context.root, r.context.fs, r.context.known
    cleanup: Callable[[], None] | None = None
    from_ref = flags.get("from", "")
    if ins.cmd == "ADD" and "from" in flags:
        raise DockerfileError("unknown flag: from", ins.line)
    if from_ref:
        src_root, cleanup = await _source_root(r, from_ref)
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
        hit = await r.lookup(st, key, created_by, st.cc)
        if hit:
            await r.out(" ---> Using cache\n")
            await r.use(st, hit)
            return
        workdir = st.cc.get("WorkingDir") or "/"
        extract = ins.cmd == "ADD"
        contents = [
            (h.name, expand_heredoc(h.content, env, r.esc) if h.expand else h.content)
            for h in ins.heredocs
        ]
        snap = st.snapshot
        chown = flags.get("chown", "")
        if found and not from_ref:  # a miss needs the files it copies
            await asyncio.to_thread(r.context.unpack, [host for host, _ in found])

        def work() -> Any:
            return copy_layer(
                r.b, snap, found, dest, workdir, chown, chmod, extract, ins.cmd, contents
            )

        try:
            await r.commit_layer(st, key, created_by, work)
        except fcopy.CopyError as exc:
            raise BuildError(f"{ins.cmd} failed: {exc}") from None
    finally:
        if cleanup:
            await asyncio.to_thread(cleanup)


def copy_layer(
    b: Builder,
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
    """Blocking: the files copied onto a fresh snapshot of `parent`, as a stored
    layer; None (an empty layer) when nothing changed."""
    sn = b.snapshotter
    key = f"build-{uuid.uuid4().hex}"
    mounts = sn.prepare(key, parent)
    target = tempfile.mkdtemp(prefix="build-mnt-", dir=b.tmp)
    try:
        b.mount_all(mounts, target)
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
            b.unmount(target)
        if not os.listdir(upper_dir(mounts)):
            return None
        return b.layers.layer_of(key, parent)
    finally:
        os.rmdir(target)
        try:
            sn.remove(key)
        except NotFound:
            pass


async def _source_root(r: BuildRun, ref: str) -> tuple[str, Callable[[], None]]:
    """`COPY --from`'s tree: an earlier stage's or an image's snapshot, viewed."""
    idx = r.stage_ref(ref, len(r.stages))
    if idx is not None:
        done = await r.stage_done(idx)
        if done is None:
            raise BuildError(f"COPY --from={ref}: stage {ref} is not built before this step")
        snap = done.snapshot
    else:
        try:
            snap = r.b.images.resolve(ref).snapshot
        except NotFound:
            raise BuildError(
                f"COPY --from={ref}: invalid from flag value {ref}: no such image or stage"
            ) from None
    b = r.b
    sn = b.snapshotter
    key = f"build-view-{uuid.uuid4().hex}"
    target = tempfile.mkdtemp(prefix="build-from-", dir=b.tmp)

    def setup() -> None:
        if snap is None:
            return
        mounts = sn.view(key, snap)
        b.mount_all(mounts, target)

    def cleanup() -> None:
        if snap is not None:
            b.unmount(target)
            try:
                sn.remove(key)
            except NotFound:
                pass
        shutil.rmtree(target, ignore_errors=True)

    await asyncio.to_thread(setup)
    return target, cleanup


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
