"""Daemon restarts: live restore after SIGTERM and SIGKILL, exits while the daemon
is away, and `always` containers after a host-style restart (no monitors left)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.conftest import Daemon, kill_leftovers, start_daemon, stop_daemon
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def _inspect(d: Daemon, name: str) -> dict:
    return json.loads(d.docker("inspect", name, check=True).stdout)[0]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_containers_survive_daemon_restart(private_root: Path, sig: int) -> None:
    d = start_daemon(private_root)
    d.docker(
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done",
        check=True,
    )
    d.docker("run", "-d", "--name", "short", "busybox", "sh", "-c", "sleep 1; exit 5", check=True)
    pid = _inspect(d, "ticker")["State"]["Pid"]
    short_pid = _inspect(d, "short")["State"]["Pid"]
    d.proc.send_signal(sig)
    d.proc.wait(15)
    assert os.path.exists(f"/proc/{pid}"), "the container died with the daemon"
    # "short" exits while no daemon runs
    wait_until(lambda: not os.path.exists(f"/proc/{short_pid}"), "'short' to exit", 10)
    d = start_daemon(private_root)
    try:
        info = _inspect(d, "ticker")
        assert info["State"]["Running"] and info["State"]["Pid"] == pid
        short = _inspect(d, "short")
        assert short["State"]["Status"] == "exited" and short["State"]["ExitCode"] == 5
        before = d.docker("logs", "ticker").stdout.count("tick")
        wait_until(
            lambda: d.docker("logs", "ticker").stdout.count("tick") > before, "new ticks logged"
        )
        r = d.docker("stop", "-t", "1", "ticker")
        assert r.returncode == 0, r.stderr
        assert not os.path.exists(f"/proc/{pid}")
    finally:
        stop_daemon(d)


def test_always_containers_come_back_after_host_restart(private_root: Path) -> None:
    d = start_daemon(private_root)
    d.docker(
        "run", "-d", "--name", "svc", "--restart", "always", "busybox", "sleep", "300", check=True
    )
    d.docker("run", "-d", "--name", "plain", "busybox", "sleep", "300", check=True)
    stop_daemon(d)
    kill_leftovers(private_root)  # what a reboot does: no monitors, no containers
    d = start_daemon(private_root)
    try:
        assert _inspect(d, "svc")["State"]["Running"] is True
        plain = _inspect(d, "plain")["State"]
        assert plain["Running"] is False and plain["Status"] == "exited"
    finally:
        stop_daemon(d)
