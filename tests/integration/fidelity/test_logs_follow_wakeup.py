"""`logs --follow` right after start gets output that came while the follower was
turning the monitor's output on (issue 12.10 / issue 18: docker-py's
`test_logs_streaming_and_follow_and_cancel` read nothing in 2 of 10 runs).

A follower reads the log file, asks the monitor for output (`{"op": "output"}`) and
waits for output to wake it. Output the monitor reads after that read but before it
acts on the request goes only to the file: nothing wakes the follower, which then
sees it only at its next poll of the file (1 s: docker-py's test gives up at 1 s).
The monitor now answers the request, and the answer wakes the follower.

The test makes that window wide on purpose: the monitor host is stopped
(SIGSTOP) while the container writes and while the follower asks; once it goes on,
it reads the output first (it was ready first), then the request. The daemon runs
with a poll long enough that only a wake-up can deliver the line.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import threading
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.conftest import Daemon, daemon_with_busybox
from tests.waiting import wait_until


@pytest.fixture()
def slow_poll_daemon(busybox_rootfs_tar: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    monkeypatch.setenv("DOCKYARD_LOG_FOLLOW_POLL", "3600")
    root = Path(tempfile.mkdtemp(prefix="dyfw-", dir="/tmp"))
    try:
        with daemon_with_busybox(root, busybox_rootfs_tar) as d:
            yield d
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _queued_in_pipe(pid: int, fd: int) -> int:
    """Bytes waiting in the pipe that is the process's `fd` (FIONREAD on a second
    reader of it: nothing is taken out)."""
    r = os.open(f"/proc/{pid}/fd/{fd}", os.O_RDONLY | os.O_NONBLOCK)
    try:
        return int(struct.unpack("i", fcntl.ioctl(r, termios.FIONREAD, b"\0\0\0\0"))[0])
    finally:
        os.close(r)


def _unread_on(sock_path: str) -> int:
    """What the sockets bound at `sock_path` hold unread (ss's Recv-Q)."""
    out = subprocess.run(["ss", "-x", "-n"], capture_output=True, text=True, check=True).stdout
    return sum(int(f[2]) for line in out.splitlines() if sock_path in (f := line.split()))


def test_follow_is_woken_when_output_turns_on(slow_poll_daemon: Daemon) -> None:
    d = slow_poll_daemon
    d.docker("run", "-d", "--name", "fw", "--network", "none", "busybox", "sh", "-c",
             "while [ ! -e /go ]; do sleep 0.05; done; echo hi; exec sleep 600",
             check=True)  # fmt: skip
    api = docker.APIClient(base_url=d.host)
    state = api.inspect_container("fw")
    cid, pid = state["Id"], state["State"]["Pid"]
    host = int(Path(d.root / "exec" / "containers" / cid / "monitor.pid").read_text())
    monitor_sock = str(d.root / "exec" / "s" / cid[:32])
    got: list[bytes] = []
    follower = None
    os.kill(host, signal.SIGSTOP)
    try:
        Path(f"/proc/{pid}/root/go").touch()
        wait_until(lambda: _queued_in_pipe(pid, 1), "the container's line in its stdout pipe")
        before = _unread_on(monitor_sock)

        def follow() -> None:
            with contextlib.suppress(Exception):
                for chunk in api.logs("fw", stream=True, follow=True):
                    got.append(chunk)

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        wait_until(lambda: _unread_on(monitor_sock) > before, "the follower's request")
    finally:
        os.kill(host, signal.SIGCONT)
    wait_until(lambda: b"".join(got) == b"hi\n", "the line at the follower", timeout=20)
    d.docker("rm", "-f", "fw")
    follower.join(20)
    api.close()
