"""The official docker CLI in a real pseudo-terminal (pexpect) against dockyardd:
`run -it`, `exec -it`, `attach`, `start -ai`, detach keys, Ctrl-C and resize."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pexpect
import pytest

from tests.conftest import Daemon
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

PROMPT = "# "


def _name() -> str:
    return f"tty-{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def names(daemon: Daemon) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    if made:
        daemon.docker("rm", "-f", *made, timeout=30)


def spawn(daemon: Daemon, *args: str, rows: int = 24, cols: int = 80) -> pexpect.spawn:
    return pexpect.spawn(
        "docker", list(args), env=daemon.env(), timeout=15, dimensions=(rows, cols)
    )


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def in_foreground(*argv: str) -> bool:
    """Whether a process running `argv` is the foreground process group of its
    terminal (so a ^C typed now reaches it, not the shell that forked it)."""
    want = ("\0".join(argv) + "\0").encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if f.read() != want:
                    continue
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pgrp, tty_nr, tpgid = int(fields[2]), int(fields[4]), int(fields[5])
        if tty_nr != 0 and pgrp == tpgid:
            return True
    return False


def state(daemon: Daemon, name: str) -> str:
    return daemon.docker("inspect", "-f", "{{.State.Status}}", name).stdout.strip()


def test_run_it_is_a_real_terminal_with_resize(daemon: Daemon, names: list[str]) -> None:
    n = _name()
    names.append(n)
    ch = spawn(daemon, "run", "-it", "--network", "none", "--name", n, "busybox", "sh",
               rows=30, cols=100)  # fmt: skip
    try:
        ch.expect(PROMPT)
        ch.sendline("tty; stty size")
        ch.expect(r"/dev/pts/\d+")
        ch.expect("30 100")
        ch.setwinsize(40, 120)  # SIGWINCH to the CLI → POST /containers/{id}/resize
        deadline = time.monotonic() + 5
        while True:
            ch.sendline("stty size")
            i = ch.expect(["40 120", "30 100"])
            if i == 0:
                break
            assert time.monotonic() < deadline, "resize never reached the pty"
            time.sleep(0.2)
        ch.sendline("exit 5")
        assert finish(ch) == 5
    finally:
        ch.close(force=True)
    assert daemon.docker("inspect", "-f", "{{.State.ExitCode}}", n).stdout.strip() == "5"
    # The TTY's output is in the log, as one raw stream.
    assert "/dev/pts/" in daemon.docker("logs", n).stdout


def test_ctrl_c_reaches_the_process_and_detach_keys_leave_it_running(
    daemon: Daemon, names: list[str]
) -> None:
    n = _name()
    names.append(n)
    ch = spawn(daemon, "run", "-it", "--network", "none", "--name", n, "busybox", "sh")
    try:
        ch.expect(PROMPT)
        ch.sendline("sleep 311")
        wait_until(lambda: in_foreground("sleep", "311"), "sleep in the terminal's foreground")
        ch.sendcontrol("c")  # the pty's line discipline turns it into SIGINT
        ch.expect(r"\^C")
        ch.sendline("echo status-$?")
        ch.expect("status-130")
        ch.sendcontrol("p")
        ch.sendcontrol("q")
        assert finish(ch) == 0  # as with dockerd: `run` detaches silently, status 0
    finally:
        ch.close(force=True)
    assert state(daemon, n) == "running"

    # attach again: same shell; custom detach keys
    ch = spawn(daemon, "attach", "--detach-keys", "ctrl-x,x", n)
    try:
        ch.sendline("echo again-$((40+2))")
        ch.expect("again-42")
        ch.sendcontrol("x")
        ch.send("x")
        ch.expect("read escape sequence")
        assert finish(ch) == 1  # docker attach's status after detaching (dockerd too)
    finally:
        ch.close(force=True)
    assert state(daemon, n) == "running"

    # attach and end the shell: attach returns its exit code
    ch = spawn(daemon, "attach", n)
    try:
        ch.sendline("exit 3")  # typed before the CLI is attached: kept
        assert finish(ch) == 3
    finally:
        ch.close(force=True)
    assert state(daemon, n) == "exited"


def test_start_ai_reattaches_a_stopped_tty_container(daemon: Daemon, names: list[str]) -> None:
    n = _name()
    names.append(n)
    r = daemon.docker("create", "-it", "--network", "none", "--name", n, "busybox", "sh")
    assert r.returncode == 0, r.stderr
    ch = spawn(daemon, "start", "-ai", n)
    try:
        ch.expect(PROMPT)
        ch.sendline("echo started-$((1+1))")
        ch.expect("started-2")
        ch.sendline("exit 4")
        assert finish(ch) == 4
    finally:
        ch.close(force=True)


def test_exec_it_gets_its_own_terminal(daemon: Daemon, names: list[str]) -> None:
    n = _name()
    names.append(n)
    r = daemon.docker("run", "-d", "--network", "none", "--name", n, "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    ch = spawn(daemon, "exec", "-it", n, "sh", rows=25, cols=90)
    try:
        ch.expect(PROMPT)
        ch.sendline("tty; stty size; echo $TERM")
        ch.expect(r"/dev/pts/\d+")
        ch.expect("25 90")
        ch.expect("xterm")
        ch.setwinsize(33, 77)  # → POST /exec/{id}/resize
        deadline = time.monotonic() + 5
        while True:
            ch.sendline("stty size")
            if ch.expect(["33 77", "25 90"]) == 0:
                break
            assert time.monotonic() < deadline, "exec resize never reached the pty"
            time.sleep(0.2)
        ch.sendline("sleep 312")
        wait_until(lambda: in_foreground("sleep", "312"), "sleep in the terminal's foreground")
        ch.sendcontrol("c")
        ch.expect(r"\^C")
        ch.sendline("echo status-$?")
        ch.expect("status-130")
        ch.sendline("exit 7")
        assert finish(ch) == 7
    finally:
        ch.close(force=True)
    # the container is untouched by the exec's end
    assert state(daemon, n) == "running"
