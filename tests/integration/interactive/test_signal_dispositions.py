"""Containers of a daemon started as `nohup dockyardd &` starts it (SIGHUP, SIGINT and
SIGQUIT ignored, some signals blocked) get default dispositions and an empty signal
mask, as dockerd's do (`SigIgn: 0`), in the init and in execs; Ctrl-C through a real
pseudo-terminal ends `docker run -it busybox sleep 100` with 130."""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.conftest import Daemon, daemon_with_busybox
from tests.integration.security.conftest import status_field

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.integration,
]

_IGNORED = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT)
_BLOCKED = {signal.SIGUSR1, signal.SIGWINCH}


def _as_nohup() -> None:
    """In the daemon's process before exec: what `nohup CMD &` in a script leaves."""
    for sig in _IGNORED:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)


@pytest.fixture(scope="module")
def nohup_daemon(session_tmp: Path, busybox_rootfs_tar: Path) -> Iterator[Daemon]:
    root = session_tmp / f"nohup-{uuid.uuid4().hex[:6]}"
    root.mkdir()
    with daemon_with_busybox(root, busybox_rootfs_tar, preexec_fn=_as_nohup) as d:
        yield d


def _masks(status: str) -> tuple[str, str]:
    return status_field(status, "SigIgn"), status_field(status, "SigBlk")


def test_init_and_exec_get_default_dispositions_and_no_mask(nohup_daemon: Daemon) -> None:
    d = nohup_daemon
    r = d.docker("run", "--rm", "--network", "none", "busybox", "cat", "/proc/1/status")
    assert r.returncode == 0, r.stderr
    assert _masks(r.stdout) == ("0000000000000000", "0000000000000000")
    name = f"sig-{uuid.uuid4().hex[:8]}"
    r = d.docker("run", "-d", "--network", "none", "--name", name, "busybox", "sleep", "60")
    assert r.returncode == 0, r.stderr
    try:
        r = d.docker("exec", name, "cat", "/proc/self/status")
        assert r.returncode == 0, r.stderr
        assert _masks(r.stdout) == ("0000000000000000", "0000000000000000")
        r = d.docker("exec", "-t", name, "cat", "/proc/self/status")
        assert _masks(r.stdout) == ("0000000000000000", "0000000000000000")
    finally:
        d.docker("rm", "-f", name)


def test_daemon_and_monitor_hosts_dropped_what_they_inherited(nohup_daemon: Daemon) -> None:
    d = nohup_daemon
    r = d.docker("run", "--rm", "--network", "none", "busybox", "true")
    assert r.returncode == 0, r.stderr
    zygote_and_hosts = [
        int(p) for p in os.listdir("/proc")
        if p.isdigit() and _cmdline(int(p)).startswith(b"%s" % sys.executable.encode())
        and str(d.root).encode() in _cmdline(int(p)) and int(p) != d.proc.pid
    ]  # fmt: skip
    assert zygote_and_hosts
    for pid in [d.proc.pid, *zygote_and_hosts]:
        try:
            with open(f"/proc/{pid}/status") as f:
                ignored, blocked = _masks(f.read())
        except FileNotFoundError:
            continue
        assert not int(ignored, 16) & 0b111, (pid, ignored)  # SIGHUP, SIGINT, SIGQUIT
        assert int(blocked, 16) == 0, (pid, blocked)


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def test_ctrl_c_through_a_pty_ends_run_it_with_130(nohup_daemon: Daemon) -> None:
    """`sleep` runs under a shell: as PID 1 it would ignore SIGINT at its default
    disposition, under dockerd as here (the kernel protects a namespace's init)."""
    d = nohup_daemon
    name = f"sig-{uuid.uuid4().hex[:8]}"
    ch = pexpect.spawn(
        "docker",
        ["run", "-it", "--network", "none", "--name", name, "busybox",
         "sh", "-c", "sleep 100; exit $?"],
        env=d.env(), timeout=20,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while "sleep" not in d.docker("exec", name, "sh", "-c", "cat /proc/[0-9]*/comm").stdout:
            assert time.monotonic() < deadline, "the container never ran sleep"
            time.sleep(0.1)
        ch.sendcontrol("c")  # the container's pty turns it into SIGINT for sleep
        ch.expect(pexpect.EOF, timeout=20)  # sleep would ignore it and run for 100 s
        ch.close()
        assert ch.exitstatus == 130
    finally:
        ch.close(force=True)
        d.docker("rm", "-f", name)
