"""`save` and `load`: image archives out of and into the daemon, streamed.

The archive never sits in memory: `save` copies the response body to the file
(or stdout) chunk by chunk, `load` sends the file as the request body.
"""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import BOOL, OUTPUT, STRING, Command, Flag
from dockyard.cli.main import Cli, command_table, handles
from dockyard.client.errors import ClientError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SAVE = Command(
    "save [OPTIONS] IMAGE [IMAGE...]",
    "Save one or more images to a tar archive (streamed to STDOUT by default)",
    (
        OUTPUT,
        Flag("platform", "", STRING, "Save only the given platform variant", metavar="string"),
    ),
    min_args=1,
    aliases=("image save",),
)


@handles(SAVE)
def save(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    output = opts["output"]
    if not output and os.isatty(sys.stdout.fileno()):
        cli.err("cowardly refusing to save to a terminal. Use the -o flag or redirect\n")
        return 1
    params: dict[str, Any] = {"names": args}
    if opts["platform"]:
        params["platform"] = opts["platform"]
    resp = cli.client.request("GET", "/images/get", params)
    try:
        if output:
            _copy_to_file(resp.iter_body(), output)
        else:
            out = sys.stdout.buffer
            for chunk in resp.iter_body():
                out.write(chunk)
            out.flush()
    except OSError as e:
        cli.err(f"failed to save image: {e.strerror or e}\n")
        return 1
    finally:
        resp.close()
    return 0


def _copy_to_file(chunks: Any, path: str) -> None:
    """Like docker's CopyToFile: a 0600 temp file beside `path`, renamed into place when complete."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".docker_temp_{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


LOAD = Command(
    "load [OPTIONS]",
    "Load an image from a tar archive or STDIN",
    (
        Flag(
            "input", "i", STRING, "Read from tar archive file, instead of STDIN", metavar="string"
        ),
        Flag("quiet", "q", BOOL, "Suppress the load output"),
        Flag("platform", "", STRING, "Load only the given platform variant", metavar="string"),
    ),
    max_args=0,
    aliases=("image load",),
)


@handles(LOAD)
def load(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    if opts["input"]:
        try:
            body: Any = open(opts["input"], "rb")  # noqa: SIM115 - closed below
        except OSError as e:
            cli.err(f"open {opts['input']}: {(e.strerror or str(e)).lower()}\n")
            return 1
    else:
        if os.isatty(sys.stdin.fileno()):
            cli.err("requested load from stdin, but stdin is empty\n")
            return 1
        body = sys.stdin.buffer
    tty = os.isatty(sys.stdout.fileno())
    # docker: off a terminal the load is quiet (no progress bars, only the result lines)
    params: dict[str, Any] = {"quiet": "1" if opts["quiet"] or not tty else "0"}
    if opts["platform"]:
        params["platform"] = opts["platform"]
    try:
        resp = cli.client.request(
            "POST", "/images/load", params, body, {"Content-Type": "application/x-tar"}
        )
        _show(cli.client.json_stream(resp), sys.stdout, tty)
    except ClientError as e:
        cli.err(f"{e}\n")
        return 1
    finally:
        if body is not sys.stdin.buffer:
            body.close()
    return 0


def _show(messages: Any, out: Any, tty: bool) -> None:
    """Off a terminal, docker's plain rendering; on one, each layer's bar redrawn in place."""
    from dockyard.cli.image import show_progress

    if not tty:
        show_progress(messages, out)
        return
    from dockyard.cli.format import json_message_line

    bar_open = False
    for message in messages:
        if not isinstance(message, dict):
            continue
        if message.get("errorDetail") or message.get("error"):
            detail = message.get("errorDetail") or {}
            if bar_open:
                out.write("\n")
            raise ClientError(detail.get("message") or message.get("error"))
        if message.get("progress"):
            out.write(
                f"\r\x1b[2K{message.get('id', '')}: {message.get('status', '')} {message['progress']}"
            )
            bar_open = True
        else:
            line = json_message_line(message) or ""
            if line and bar_open:
                out.write("\n")
                bar_open = False
            out.write(line)
        out.flush()
    if bar_open:
        out.write("\n")


COMMANDS = command_table(save, load)
