"""`dockyard build`: docker's legacy-builder flags; the context dir is sent as a
tar with `.dockerignore` applied client side (the same matcher the daemon
uses), or read from stdin (`-`); `-f -` reads the Dockerfile from stdin."""

from __future__ import annotations

import json
import os
import sys
import tarfile
import tempfile

from dockyard.cli.flags import BOOL, LIST, STRING, Command, Flag
from dockyard.cli.main import Cli
from dockyard.client.errors import ClientError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

BUILD = Command(
    "build",
    "[OPTIONS] PATH | -",
    "Build an image from a Dockerfile",
    (
        Flag("tag", "t", LIST, "Name and optionally a tag in the 'name:tag' format", metavar="list"),
        Flag("file", "f", STRING, "Name of the Dockerfile (Default is 'PATH/Dockerfile')", metavar="string"),
        Flag("build-arg", "", LIST, "Set build-time variables", metavar="list"),
        Flag("target", "", STRING, "Set the target build stage to build.", metavar="string"),
        Flag("no-cache", "", BOOL, "Do not use cache when building the image"),
        Flag("quiet", "q", BOOL, "Suppress the build output and print image ID on success"),
        Flag("label", "", LIST, "Set metadata for an image", metavar="list"),
        Flag("iidfile", "", STRING, "Write the image ID to the file", metavar="string"),
        Flag("network", "", STRING, "Set the networking mode for the RUN instructions during build", metavar="string"),
        Flag("add-host", "", LIST, "Add a custom host-to-IP mapping (host:ip)", metavar="list"),
        Flag("rm", "", BOOL, "Remove intermediate containers after a successful build", default=True),
        Flag("force-rm", "", BOOL, "Always remove intermediate containers"),
        Flag("pull", "", BOOL, "Always attempt to pull a newer version of the image"),
        Flag("platform", "", STRING, "Set platform if server is multi-platform capable", metavar="string"),
    ),
    min_args=1,
    aliases=("image build",),
)  # fmt: skip


STDIN_DOCKERFILE = ".dockyard-stdin-Dockerfile"


def _entries(root: str, dockerfile: str | None) -> list[tuple[str, str, os.stat_result]]:
    """(relative path, host path, lstat) of what the context holds after .dockerignore."""
    from dockyard.builder.dockerignore import Matcher, read_patterns

    patterns: list[str] = []
    try:
        with open(os.path.join(root, ".dockerignore")) as f:
            patterns = read_patterns(f.read())
    except FileNotFoundError:
        pass
    m = Matcher(patterns)
    keep = {".dockerignore", dockerfile or "Dockerfile"}
    out: list[tuple[str, str, os.stat_result]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames.sort()
        for d in list(dirnames):
            rel = d if rel_dir == "." else f"{rel_dir}/{d}"
            if patterns and m.excluded(rel) and not m.may_reinclude_under(rel):
                dirnames.remove(d)
                continue
            host = os.path.join(dirpath, d)
            out.append((rel, host, os.lstat(host)))
        for name in sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if patterns and m.excluded(rel) and rel not in keep:
                continue
            host = os.path.join(dirpath, name)
            out.append((rel, host, os.lstat(host)))
    return out


def _manifest(
    entries: list[tuple[str, str, os.stat_result]], df_text: bytes | None
) -> dict[str, list[Any]]:
    import stat

    man: dict[str, list[Any]] = {}
    for rel, host, st in entries:
        if stat.S_ISDIR(st.st_mode):
            man[rel] = ["d", stat.S_IMODE(st.st_mode), 0, st.st_mtime_ns, ""]
        elif stat.S_ISLNK(st.st_mode):
            man[rel] = ["l", 0o777, 0, st.st_mtime_ns, os.readlink(host)]
        elif stat.S_ISREG(st.st_mode):
            man[rel] = ["f", stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns, ""]
    if df_text is not None:
        import hashlib

        tag = int(hashlib.sha256(df_text).hexdigest()[:12], 16)
        man[STDIN_DOCKERFILE] = ["f", 0o644, len(df_text), tag, ""]
    return man


def _context_tar(
    entries: list[tuple[str, str, os.stat_result]],
    dockerfile_text: bytes | None,
    only: set[str] | None = None,
) -> IO[bytes]:
    """The context as a tar; with `only`, regular files outside it are left out."""
    import io
    import stat

    out = tempfile.TemporaryFile()  # noqa: SIM115
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for rel, host, st in entries:
            if only is not None and stat.S_ISREG(st.st_mode) and rel not in only:
                continue
            tf.add(host, arcname=rel, recursive=False)
        if dockerfile_text is not None and (only is None or STDIN_DOCKERFILE in only):
            ti = tarfile.TarInfo(STDIN_DOCKERFILE)
            ti.size = len(dockerfile_text)
            ti.mode = 0o644
            tf.addfile(ti, io.BytesIO(dockerfile_text))
    out.seek(0)
    return out


def _context_key(path: str, host: str) -> str:
    import hashlib
    import socket

    ident = f"{socket.gethostname()}\0{os.getuid()}\0{os.path.realpath(path)}\0{host}"
    return hashlib.sha256(ident.encode()).hexdigest()


def build(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    path = args[0]
    dockerfile = opts["file"] or ""
    df_text = None
    context_key = ""
    if dockerfile == "-":
        df_text = sys.stdin.buffer.read()
        dockerfile = STDIN_DOCKERFILE
    if path == "-":
        body: IO[bytes] = sys.stdin.buffer
    else:
        if dockerfile and dockerfile != STDIN_DOCKERFILE:
            # docker: -f is relative to the working directory; outside the
            # context it travels inside the tar under a private name
            full = os.path.abspath(dockerfile)
            rel = os.path.relpath(full, os.path.abspath(path))
            if rel.startswith(".."):
                with open(full, "rb") as f:
                    df_text = f.read()
                dockerfile = STDIN_DOCKERFILE
            else:
                dockerfile = rel
        entries = _entries(path, dockerfile or None)
        context_key = _context_key(path, cli.client.host if hasattr(cli.client, "host") else "")
        try:
            need = cli.client.post(
                "/dockyard/build-context", {"key": context_key}, _manifest(entries, df_text)
            )["need"]
            body = _context_tar(entries, df_text, set(need))
        except ClientError:  # a daemon without incremental contexts: send it all
            context_key = ""
            body = _context_tar(entries, df_text)
    buildargs: dict[str, str | None] = {}
    for a in opts["build_arg"] or []:
        k, sep, v = a.partition("=")
        buildargs[k] = v if sep else os.environ.get(k)
    labels = dict(lbl.partition("=")[::2] for lbl in opts["label"] or [])
    params: dict[str, Any] = {
        "t": opts["tag"] or [],
        "dockerfile": dockerfile or "Dockerfile",
        "buildargs": json.dumps(buildargs),
        "labels": json.dumps(labels),
        "q": "1" if opts["quiet"] else "0",
        "nocache": "1" if opts["no_cache"] else "0",
        "rm": "1" if opts["rm"] else "0",
        "forcerm": "1" if opts["force_rm"] else "0",
        "pull": "1" if opts["pull"] else "0",
    }
    for key, flag in (("target", "target"), ("networkmode", "network"), ("platform", "platform")):
        if opts[flag]:
            params[key] = opts[flag]
    if context_key:
        params["contextkey"] = context_key
    if opts["add_host"]:
        params["extrahosts"] = ",".join(opts["add_host"])
    image_id = ""
    try:
        resp = cli.client.request(
            "POST", "/build", params, body, {"Content-Type": "application/x-tar"}
        )
        out = sys.stdout
        for msg in cli.client.json_stream(resp):
            if not isinstance(msg, dict):
                continue
            if msg.get("errorDetail") or msg.get("error"):
                raise ClientError((msg.get("errorDetail") or {}).get("message") or msg["error"])
            if "aux" in msg:
                image_id = (msg["aux"] or {}).get("ID", "")
                continue
            if opts["quiet"]:
                continue
            if "stream" in msg:
                out.write(msg["stream"])
                out.flush()
    except ClientError as e:
        cli.err(f"{e}\n")
        return 1
    finally:
        if body is not sys.stdin.buffer:
            body.close()
    if opts["quiet"]:
        print(image_id)
    if opts["iidfile"] and image_id:
        with open(opts["iidfile"], "w") as f:
            f.write(image_id)
    return 0


COMMANDS = {"build": (BUILD, build)}
