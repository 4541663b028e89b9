"""`dockyard build`: docker's legacy-builder flags; the context dir is sent as a
tar with `.dockerignore` applied client side (the same matcher the daemon
uses), or read from stdin (`-`); `-f -` reads the Dockerfile from stdin."""

from __future__ import annotations

import json
import os
import sys

from dockyard.api.buildresources import RESOURCES
from dockyard.cli.flags import BOOL, INT, LIST, NO_CACHE, PLATFORM, PULL, STRING, Command, Flag
from dockyard.cli.main import Cli, command_table, handles
from dockyard.client.errors import ClientError
from dockyard.proto.units import ram_in_bytes

_HELP = {"memory": "Memory limit", "memory-swap": "Swap limit equal to memory plus swap: -1 to enable unlimited swap",
         "cpu-shares": "CPU shares (relative weight)", "cpu-period": "Limit the CPU CFS (Completely Fair Scheduler) period",
         "cpu-quota": "Limit the CPU CFS (Completely Fair Scheduler) quota",
         "cpuset-cpus": "CPUs in which to allow execution (0-3, 0,1)",
         "cpuset-mems": "MEMs in which to allow execution (0-3, 0,1)", "shm-size": "Size of /dev/shm"}  # fmt: skip
_RESOURCE_FLAGS = tuple(
    Flag(flag, "m" if flag == "memory" else "c" if flag == "cpu-shares" else "", STRING, _HELP[flag],
         0, "bytes", convert=ram_in_bytes) if size
    else Flag(flag, "c" if flag == "cpu-shares" else "", STRING if "cpuset" in flag else INT,
              _HELP[flag], metavar="string" if "cpuset" in flag else "int")
    for flag, _, _, size in RESOURCES
)  # fmt: skip

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import IO, Any

BUILD = Command(
    "build [OPTIONS] PATH | -",
    "Build an image from a Dockerfile",
    (
        Flag("tag", "t", LIST, "Name and optionally a tag in the 'name:tag' format", metavar="list"),
        Flag("file", "f", STRING, "Name of the Dockerfile (Default is 'PATH/Dockerfile')", metavar="string"),
        Flag("build-arg", "", LIST, "Set build-time variables", metavar="list"),
        Flag("target", "", STRING, "Set the target build stage to build.", metavar="string"),
        NO_CACHE,
        Flag("quiet", "q", BOOL, "Suppress the build output and print image ID on success"),
        Flag("label", "", LIST, "Set metadata for an image", metavar="list"),
        Flag("iidfile", "", STRING, "Write the image ID to the file", metavar="string"),
        Flag("network", "", STRING, "Set the networking mode for the RUN instructions during build", metavar="string"),
        Flag("add-host", "", LIST, "Add a custom host-to-IP mapping (host:ip)", metavar="list"),
        Flag("rm", "", BOOL, "Remove intermediate containers after a successful build", default=True),
        Flag("force-rm", "", BOOL, "Always remove intermediate containers"),
        PULL,
        PLATFORM,
        *_RESOURCE_FLAGS,
    ),
    min_args=1,
    aliases=("image build",),
)  # fmt: skip


# the daemon's builder.contexts.PRIVATE_DOCKERFILE (not imported: it would cost
# the CLI the daemon side's imports)
STDIN_DOCKERFILE = ".dockyard-stdin-Dockerfile"


def _entries(root: str) -> list[tuple[str, str, Any]]:
    """(relative path, host path, lstat) of what the context holds after
    .dockerignore (which may exclude the Dockerfile and itself: then they are
    not COPY-able, and the Dockerfile is sent under the private name). An
    excluded directory walked for re-included files is sent as docker's CLI
    leaves it: implied by what it keeps (0755), or not at all."""
    patterns: list[str] = []
    try:
        with open(os.path.join(root, ".dockerignore")) as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    if text:  # the matcher (and `re`'s compiler) only when there are patterns
        from dockyard.dockerfile.dockerignore import Matcher, read_patterns

        patterns = read_patterns(text)
        m = Matcher(patterns)
    out: list[tuple[str, str, Any]] = []
    hollow: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames.sort()
        for d in list(dirnames):
            rel = d if rel_dir == "." else f"{rel_dir}/{d}"
            host = os.path.join(dirpath, d)
            if patterns and m.excluded(rel):
                if m.may_reinclude_under(rel):
                    hollow.append((rel, host))
                else:
                    dirnames.remove(d)
                continue
            out.append((rel, host, os.lstat(host)))
        for name in sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if patterns and m.excluded(rel):
                continue
            host = os.path.join(dirpath, name)
            out.append((rel, host, os.lstat(host)))
    for rel, host in hollow:
        if any(e[0].startswith(rel + "/") for e in out):
            out.append((rel, host, _ImpliedDir()))
    return out


class _ImpliedDir:
    """The lstat of a directory the context holds only for what is under it."""

    st_mode = 0o040755
    st_size = st_mtime = st_mtime_ns = 0


def _sha256_hex(data: bytes) -> str:
    try:  # CPython's own sha256: loading OpenSSL for hashlib costs ~3 ms here
        from _sha256 import sha256  # type: ignore[import-not-found]
    except ImportError:
        from hashlib import sha256
    return str(sha256(data).hexdigest())


def _manifest(entries: list[tuple[str, str, Any]], df_text: bytes | None) -> dict[str, list[Any]]:
    man: dict[str, list[Any]] = {}
    for rel, host, st in entries:
        mode = st.st_mode
        if _S_ISDIR(mode):
            man[rel] = ["d", mode & 0o7777, 0, st.st_mtime_ns, ""]
        elif _S_ISLNK(mode):
            man[rel] = ["l", 0o777, 0, st.st_mtime_ns, os.readlink(host)]
        elif _S_ISREG(mode):
            man[rel] = ["f", mode & 0o7777, st.st_size, st.st_mtime_ns, ""]
    if df_text is not None:
        tag = int(_sha256_hex(df_text)[:12], 16)
        man[STDIN_DOCKERFILE] = ["f", 0o644, len(df_text), tag, ""]
    return man


def _S_ISDIR(mode: int) -> bool:
    return mode & 0o170000 == 0o040000


def _S_ISLNK(mode: int) -> bool:
    return mode & 0o170000 == 0o120000


def _S_ISREG(mode: int) -> bool:
    return mode & 0o170000 == 0o100000


def _tar_header(name: str, mode: int, size: int, mtime: int, kind: bytes, link: str = "") -> bytes:
    """A ustar header (a PAX header first for long names or large sizes), owned
    by 0:0 with whole-second mtimes, as the docker CLI sends a context."""
    pax = b""
    bname, blink = name.encode("utf-8", "surrogateescape"), link.encode("utf-8", "surrogateescape")
    records = {}
    if len(bname) > 100:
        records["path"], bname = bname, bname[:100]
    if len(blink) > 100:
        records["linkpath"], blink = blink, blink[:100]
    if size >= 8**11:
        records["size"], size = str(size).encode(), 0
    if records:
        data = b""
        for key, value in records.items():
            body = b" " + key.encode() + b"=" + value + b"\n"
            n = len(body) + 1
            while len(str(n)) + len(body) != n:
                n = len(str(n)) + len(body)
            data += str(n).encode() + body
        pax = _tar_header("././@PaxHeader", 0o644, len(data), mtime, b"x") + _padded(data)

    def num(v: int, width: int) -> bytes:
        return b"%0*o\0" % (width - 1, v)

    head = (
        bname.ljust(100, b"\0") + num(mode, 8) + num(0, 8) + num(0, 8) + num(size, 12)
        + num(mtime, 12) + b" " * 8 + kind + blink.ljust(100, b"\0") + b"ustar\x0000"
        + b"\0" * 32 * 2 + num(0, 8) + num(0, 8) + b"\0" * 155
    ).ljust(512, b"\0")  # fmt: skip
    check = b"%06o\0 " % sum(head)
    return pax + head[:148] + check + head[156:]


def _padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 512)


def _context_tar(
    entries: list[tuple[str, str, Any]],
    dockerfile_text: bytes | None,
    only: set[str] | None = None,
) -> Iterator[bytes]:
    """The context as a tar stream; with `only`, regular files outside it are
    left out. Small pieces are sent together (one chunk per ~1 MiB)."""
    buf: list[bytes] = []
    size = 0
    for rel, host, st in entries:
        mode, mtime = st.st_mode, max(0, int(st.st_mtime))
        if _S_ISDIR(mode):
            buf.append(_tar_header(rel + "/", mode & 0o7777, 0, mtime, b"5"))
        elif _S_ISLNK(mode):
            buf.append(_tar_header(rel, 0o777, 0, mtime, b"2", os.readlink(host)))
        elif _S_ISREG(mode) and (only is None or rel in only):
            buf.append(_tar_header(rel, mode & 0o7777, st.st_size, mtime, b"0"))
            with open(host, "rb", buffering=0) as f:
                left = st.st_size
                while left > 0:  # a file that shrank since its lstat is padded with zeros
                    chunk = f.read(min(left, 1 << 20)) or b"\0" * min(left, 1 << 20)
                    buf.append(chunk)
                    size += len(chunk)
                    left -= len(chunk)
                    if size >= 1 << 20:
                        yield b"".join(buf)
                        buf, size = [], 0
            buf.append(b"\0" * (-st.st_size % 512))
        else:
            continue  # sockets, fifos and devices are not sent (docker's CLI skips sockets)
        size += 512
        if size >= 1 << 20:
            yield b"".join(buf)
            buf, size = [], 0
    if dockerfile_text is not None and (only is None or STDIN_DOCKERFILE in only):
        buf.append(_tar_header(STDIN_DOCKERFILE, 0o644, len(dockerfile_text), 0, b"0"))
        buf.append(_padded(dockerfile_text))
    buf.append(b"\0" * 1024)
    yield b"".join(buf)


def _context_key(path: str, host: str) -> str:
    import socket

    ident = f"{socket.gethostname()}\0{os.getuid()}\0{os.path.realpath(path)}\0{host}"
    return _sha256_hex(ident.encode())


def context_source(
    path: str, dockerfile: str, df_text: bytes | None
) -> tuple[list[tuple[str, str, Any]], str, bytes | None]:
    """The context's entries and how the Dockerfile travels: (entries, its name in the
    tar, the text sent under the private name or None). `dockerfile` is relative to the
    working directory ("" for the context's Dockerfile); one outside the context, or
    excluded by .dockerignore, travels inside the tar under a private name."""
    if dockerfile and dockerfile != STDIN_DOCKERFILE:
        full = os.path.abspath(dockerfile)
        rel = os.path.relpath(full, os.path.abspath(path))
        if rel.startswith(".."):
            with open(full, "rb") as f:
                df_text = f.read()
            dockerfile = STDIN_DOCKERFILE
        else:
            dockerfile = rel
    entries = _entries(path)
    if df_text is None and (dockerfile or "Dockerfile") not in {e[0] for e in entries}:
        try:
            with open(os.path.join(path, dockerfile or "Dockerfile"), "rb") as f:
                df_text = f.read()
            dockerfile = STDIN_DOCKERFILE
        except OSError:
            pass  # the daemon says it cannot find it, as dockerd does
    return entries, dockerfile, df_text


@handles(BUILD)
def build(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    path = args[0]
    dockerfile = opts["file"] or ""
    df_text = None
    context_key = ""
    if dockerfile == "-":
        df_text = sys.stdin.buffer.read()
        dockerfile = STDIN_DOCKERFILE
    body: IO[bytes] | Iterable[bytes]
    if path == "-":
        body = sys.stdin.buffer
    else:
        entries, dockerfile, df_text = context_source(path, dockerfile, df_text)
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
        params["extrahosts"] = list(opts["add_host"])  # one value each, as docker's CLI
    for flag, param, _, _ in RESOURCES:
        if opts[flag.replace("-", "_")]:
            params[param] = str(opts[flag.replace("-", "_")])
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
    if opts["quiet"]:
        print(image_id)
    if opts["iidfile"] and image_id:
        with open(opts["iidfile"], "w") as f:
            f.write(image_id)
    return 0


COMMANDS = command_table(build)
