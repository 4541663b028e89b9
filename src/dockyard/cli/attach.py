"""Attaching to a container from the CLI, shared by `run`, `start -a`, `exec`,
`logs` and compose's one-off containers: docker's sequence attach (hijacked,
before start so no output is lost) → wait (its headers read before start, so
the exit cannot be missed) → start → copy the streams → the exit status; the
raw terminal for `-it`, `--sig-proxy`, and docker's start-error statuses.
"""

from __future__ import annotations

import sys

from dockyard.cli.main import Cli
from dockyard.client.errors import APIError, ClientError
from dockyard.client.http import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def start_error_status(message: str) -> int:
    """docker's runStartContainerErr: 127 not found, 126 not executable, else 125."""
    if (
        "executable file not found" in message
        or "no such file or directory" in message
        or "system cannot find the file specified" in message
    ):
        return 127
    if "permission denied" in message or "is a directory" in message:
        return 126
    return 125


def report(cli: Cli, command: str, message: str, with_help: bool) -> None:
    """docker's reportError: `dockyard: <message>.` (+ `See '... --help'.`)."""
    text = f"dockyard: {message.rstrip('.')}."
    if with_help:
        text += f"\nSee 'dockyard {command} --help'."
    cli.err(text + "\n")


class _Waiter:
    """POST /wait with its headers read now (the daemon flushes them once it
    is waiting); the body, read by a thread, carries the exit status."""

    def __init__(self, cli: Cli, container_id: str, condition: str) -> None:
        import threading

        self.status = 125
        self.error: str | None = None
        path = f"/containers/{quote(container_id)}/wait"
        self._resp = cli.client.request("POST", path, {"condition": condition})
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        import json

        try:
            result = json.loads(self._resp.read() or b"{}")
            self.status = int(result.get("StatusCode", 125))
            self.error = (result.get("Error") or {}).get("Message") or None
        except (ValueError, OSError, ClientError) as e:
            self.error = str(e)
        finally:
            self._resp.close()

    def result(self) -> int:
        self._thread.join()
        return self.status


def copy_output(stream: Any, tty: bool) -> None:
    """Copy the attach stream to our stdout/stderr until the daemon closes it."""
    from dockyard.client.streams import demux
    from dockyard.proto.stdcopy import FrameDecoder

    out, err = sys.stdout.buffer, sys.stderr.buffer

    def write_out(data: bytes) -> None:
        out.write(data)
        out.flush()

    def write_err(data: bytes) -> None:
        err.write(data)
        err.flush()

    decoder = FrameDecoder()
    while True:
        try:
            data = stream.recv()
        except OSError:
            break
        if not data:
            break
        if tty:
            write_out(data)
        else:
            demux(decoder, data, write_out, write_err)


class RawTerminal:
    """Put our terminal in raw mode for `-it`, restoring it on exit."""

    def __init__(self, enabled: bool) -> None:
        self._saved: Any = None
        if enabled and sys.stdin.isatty():
            import termios
            import tty

            self._termios = termios
            self._saved = termios.tcgetattr(sys.stdin.fileno())
            # TCSANOW, as docker's CLI: TCSAFLUSH (tty.setraw's default) would drop
            # what the user typed before the stream was attached
            tty.setraw(sys.stdin.fileno(), termios.TCSANOW)

    def restore(self) -> None:
        if self._saved is not None:
            self._termios.tcsetattr(sys.stdin.fileno(), self._termios.TCSADRAIN, self._saved)
            self._saved = None


def _proxy_signals(cli: Cli, container_id: str) -> None:
    """--sig-proxy: forward SIGINT/SIGTERM to the container, as docker does off a tty."""
    import signal

    def forward(signum: int, _frame: Any) -> None:
        try:
            cli.client.post(f"/containers/{container_id}/kill", {"signal": str(signum)})
        except ClientError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, forward)


def attach_and_start(
    cli: Cli,
    container_id: str,
    streams: list[str],
    tty: bool,
    wait_condition: str,
    command: str,
    sig_proxy: bool,
    detach_keys: str | None = None,
) -> int:
    """attach → wait → start → copy streams → exit status (docker's run/start -a)."""
    import threading

    path = f"/containers/{quote(container_id)}"
    attached = None
    if streams:
        params = {"stream": True, **{s: True for s in streams}, "detachKeys": detach_keys}
        attached = cli.client.hijack(f"{path}/attach", params)
    waiter = _Waiter(cli, container_id, wait_condition)
    terminal = RawTerminal(tty and "stdin" in streams)
    try:
        try:
            cli.client.post(f"{path}/start")
        except APIError as e:
            if attached:
                attached.close()
            if wait_condition == "removed":
                waiter.result()
            terminal.restore()
            report(cli, command, str(e), False)
            return start_error_status(e.message)
        if sig_proxy and not tty:
            _proxy_signals(cli, container_id)
        detached = threading.Event()
        if attached:
            if tty:
                from dockyard.cli.terminal import follow_size

                follow_size(lambda h, w: cli.client.post(f"{path}/resize", {"h": h, "w": w}))
            if "stdin" in streams:
                watch = tty and sys.stdin.isatty()

                def pump() -> None:
                    from dockyard.cli.terminal import end, pump_stdin

                    if pump_stdin(attached, detach_keys, watch):  # Ctrl-P Ctrl-Q
                        detached.set()
                        end(attached)

                threading.Thread(target=pump, daemon=True).start()
            copy_output(attached, tty)
            attached.close()
        if detached.is_set():
            return 0
        status = waiter.result()
    finally:
        terminal.restore()
    if waiter.error and status == 125:
        cli.err(f"dockyard: {waiter.error}\n")
    return status
