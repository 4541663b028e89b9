"""`create` reports the init's own error, not the cgroup write that failed because the
init had already exited (`docker run -w /proc/self/fd/N` showed "failed to write PID to
.../cgroup.procs: No such process" about one time in twenty)."""

from __future__ import annotations

import os
import uuid

import pytest

from dockyard.runtime.cgroups import CgroupError, new_manager
from dockyard.runtime.container import join_cgroups
from dockyard.runtime.sync import Channel, SyncError
from tests.conftest import Daemon

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.integration,
]


def _dead_child(report: str | None) -> tuple[int, Channel]:
    """A child that (maybe) reports an error on the sync channel and exits, reaped."""
    c2p_r, c2p_w = os.pipe()
    p2c_r, p2c_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        if report is not None:
            Channel(p2c_r, c2p_w).send("error", message=report)
        os._exit(1)
    os.close(c2p_w)
    os.close(p2c_r)
    os.waitpid(pid, 0)
    return pid, Channel(c2p_r, p2c_w)


@pytest.fixture()
def manager():
    m = new_manager(f"/dockyard-test/{uuid.uuid4().hex}", "x")
    m.create({})
    yield m
    m.destroy()


def test_the_inits_error_wins_over_the_cgroup_write(manager) -> None:
    pid, channel = _dead_child("Not a directory: /proc/self/fd/7")
    try:
        with pytest.raises(SyncError, match="^Not a directory: /proc/self/fd/7$"):
            join_cgroups(manager, pid, channel)  # the kernel answers ESRCH for the pid
    finally:
        channel.close()


def test_without_an_error_from_the_init_the_cgroup_error_stays(manager) -> None:
    pid, channel = _dead_child(None)
    try:
        with pytest.raises(CgroupError, match="No such process"):
            join_cgroups(manager, pid, channel)
    finally:
        channel.close()


def test_run_with_a_cwd_through_a_leaked_fd_shows_the_real_error(daemon: Daemon) -> None:
    for _ in range(3):
        for n in range(3, 9):
            r = daemon.docker("run", "--rm", "--network", "none", "-w", f"/proc/self/fd/{n}",
                              "busybox", "pwd")  # fmt: skip
            assert "cgroup.procs" not in r.stderr, r.stderr
