"""The docker CLI plugin: `docker compose ...` runs this as `docker-compose compose ...`.

The docker CLI first asks `docker-compose docker-cli-plugin-metadata` (JSON with
SchemaVersion, Vendor, Version, ShortDescription), then runs the plugin with the
arguments after its own global flags (`-H`, `--context`, ...) and the word
`compose`. The daemon is `-H`, else `DOCKER_HOST`, else docker's default socket.
"""

from __future__ import annotations

import json
import os
import sys

from dockyard.compose.labels import VERSION

DOCKER_DEFAULT_HOST = "unix:///var/run/docker.sock"
_WITH_VALUE = {"-H", "--host", "-c", "--context", "--config", "-l", "--log-level",
               "--tlscacert", "--tlscert", "--tlskey"}  # fmt: skip


def metadata() -> dict[str, str]:
    return {
        "SchemaVersion": "0.1.0",
        "Vendor": "Dockyard",
        "Version": f"v{VERSION}",
        "ShortDescription": "Docker Compose",
        "URL": "https://github.com/docker/compose",
    }


def split_docker_flags(argv: list[str]) -> tuple[str | None, list[str]]:
    """(host from `-H`, the arguments after `compose`)."""
    host = None
    i = 0
    while i < len(argv) and argv[i] != "compose":
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in _WITH_VALUE and not eq:
            value = argv[i + 1] if i + 1 < len(argv) else ""
            i += 1
        if name in ("-H", "--host"):
            host = value
        elif arg.startswith("-H") and len(arg) > 2 and not eq:
            host = arg[2:]
        i += 1
    return host, argv[i + 1 :]


def follow_cli(socket_name: str) -> None:
    """Stop as if interrupted when the docker CLI that ran us goes away.

    The CLI (23+) names an abstract Unix socket in DOCKER_CLI_PLUGIN_SOCKET; it closes
    the connection when it exits or is interrupted. Without this, a plugin whose CLI
    was killed runs on (a `watch` or `logs -f` forever). A SIGINT of our own (the
    terminal's Ctrl-C reaches the whole process group) counts once, not twice.
    """
    import _thread
    import signal
    import socket
    import threading

    stopping = threading.Event()

    def on_sigint(signum: int, frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect("\0" + socket_name.removeprefix("@"))
    except OSError:
        sock.close()
        return

    def watch() -> None:
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass
        if not stopping.is_set():
            _thread.interrupt_main()

    threading.Thread(target=watch, daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["docker-cli-plugin-metadata"]:
        sys.stdout.write(json.dumps(metadata(), indent=2) + "\n")
        return 0
    if os.environ.get("DOCKER_CLI_PLUGIN_SOCKET"):
        follow_cli(os.environ["DOCKER_CLI_PLUGIN_SOCKET"])
    host, rest = split_docker_flags(argv)
    host = host or os.environ.get("DOCKER_HOST") or DOCKER_DEFAULT_HOST
    from dockyard.compose.cli import main as compose_main

    return compose_main(rest, prog="docker compose", host=host)


if __name__ == "__main__":
    sys.exit(main())
