"""`dockyard cp` and `dockyard export`: tar streams to and from
/containers/{id}/archive and /containers/{id}/export.

`cp CONTAINER:SRC DEST` unpacks on the host through the project's one tar
extractor (`dockyard.untar`, PLAIN mode: every name resolved inside DEST, no
climbing out, no links out; tarfile's "data" filter is not safe on this
Python, CVE-2025-4517), imported when used; `-` as DEST writes the
tar to stdout, `-` as SRC reads one from stdin. `cp SRC CONTAINER:DEST` packs
SRC (links kept as links) and the daemon unpacks it inside the container root.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile

from dockyard.cli.flags import ARCHIVE, BOOL, FOLLOW_LINK, OUTPUT, Command, Flag
from dockyard.cli.main import Cli, command_table, handles
from dockyard.client.errors import APIError, ClientError
from dockyard.client.http import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CP = Command(
    "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdockyard cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
    "Copy files/folders between a container and the local filesystem",
    (
        ARCHIVE,
        FOLLOW_LINK,
        Flag("quiet", "q", BOOL, "Suppress progress output during copy"),
    ),
    min_args=2,
    max_args=2,
)
EXPORT = Command(
    "export [OPTIONS] CONTAINER",
    "Export a container's filesystem as a tar archive",
    (OUTPUT,),
    min_args=1,
    max_args=1,
)


def split(arg: str) -> tuple[str | None, str]:
    """`name:path` → (name, path); a local path (absolute, ./, or no colon) → (None, path)."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None, arg
    name, _, path = arg.partition(":")
    return name, path


def _stat(cli: Cli, container: str, path: str) -> dict[str, Any] | None:
    try:
        resp = cli.client.request("HEAD", f"/containers/{quote(container)}/archive", {"path": path})
    except APIError as e:
        if e.status == 404:
            return None
        raise
    resp.close()
    header = resp.headers.get("x-docker-container-path-stat", "")
    return json.loads(base64.b64decode(header)) if header else None


def _from_container(cli: Cli, container: str, src: str, dest: str, follow: bool) -> int:
    if follow and not src.endswith("/"):
        st = _stat(cli, container, src)
        if st and st["mode"] & (1 << 27):
            src = src + "/."
    resp = cli.client.request("GET", f"/containers/{quote(container)}/archive", {"path": src})
    if dest == "-":
        try:
            for chunk in resp.iter_body():
                sys.stdout.buffer.write(chunk)
        finally:
            resp.close()
        sys.stdout.buffer.flush()
        return 0
    with tempfile.TemporaryFile() as buf:
        try:
            for chunk in resp.iter_body():
                buf.write(chunk)
        finally:
            resp.close()
        buf.seek(0)
        with tarfile.open(fileobj=buf) as tf:
            first = tf.next()
        if first is None:
            return 0
        top = first.name.lstrip("/").split("/")[0]
        if os.path.isdir(dest):
            target = dest
        else:
            parent = os.path.dirname(os.path.abspath(dest))
            if not os.path.isdir(parent):
                raise FileNotFoundError(f"no such directory: {parent}")
            target = tempfile.mkdtemp(dir=parent, prefix=".dockyard-cp-")
        from dockyard.api.errors import DockyardError
        from dockyard.untar import PLAIN, untar

        buf.seek(0)
        try:
            untar(target, buf, mode=PLAIN)  # type: ignore[arg-type]
            if target != dest:
                os.replace(os.path.join(target, top), dest)
        except DockyardError as exc:
            raise ClientError(exc.message) from None
        finally:
            if target != dest:
                shutil.rmtree(target, ignore_errors=True)
    return 0


def _to_container(cli: Cli, src: str, container: str, dest: str) -> int:
    st = _stat(cli, container, dest)
    if st is None or not st["mode"] & (1 << 31):
        # DEST is not a directory: the copy is named DEST, inside its parent
        parent, name = os.path.split(dest.rstrip("/"))
        if dest.endswith("/"):
            raise FileNotFoundError("no such directory")
        dest = parent or "/"
    else:
        name = None
    if src == "-":
        body: Any = sys.stdin.buffer.read()
    else:
        if not os.path.lexists(src):
            raise FileNotFoundError(f"no such file or directory: {src}")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            tf.add(src, arcname=name or os.path.basename(os.path.normpath(src)))
        body = buf.getvalue()
    resp = cli.client.request(
        "PUT",
        f"/containers/{quote(container)}/archive",
        {"path": dest, "noOverwriteDirNonDir": "true"},
        body,
        {"Content-Type": "application/x-tar"},
    )
    resp.read()
    resp.close()
    return 0


@handles(CP)
def cp(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    (sc, src), (dc, dest) = split(args[0]), split(args[1])
    try:
        if sc and not dc:
            return _from_container(cli, sc, src, dest, opts["follow_link"])
        if dc and not sc:
            return _to_container(cli, src, dc, dest)
    except APIError as e:
        cli.err(f"{e}\n")
        return 1
    except OSError as e:
        cli.err(f"{e.strerror or e}\n" if not e.filename else f"{e}\n")
        return 1
    cli.err(
        "copying between containers is not supported\n"
        if sc and dc
        else "must specify at least one container source\n"
    )
    return 1


@handles(EXPORT)
def export(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    if not opts["output"] and sys.stdout.isatty():
        cli.err("cowardly refusing to save to a terminal. Use the -o flag or redirect\n")
        return 1
    resp = cli.client.request("GET", f"/containers/{quote(args[0])}/export")
    out = open(opts["output"], "wb") if opts["output"] else sys.stdout.buffer  # noqa: SIM115
    try:
        for chunk in resp.iter_body():
            out.write(chunk)
    finally:
        resp.close()
        if opts["output"]:
            out.close()
        else:
            out.flush()
    return 0


COMMANDS = command_table(cp, export)
