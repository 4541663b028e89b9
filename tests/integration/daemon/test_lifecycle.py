"""Restart policies, health checks, --init, ps filters, update and events, through
the official docker CLI against a real dockyardd."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.conftest import Daemon
from tests.waiting import holds_for, wait_until

pytestmark = pytest.mark.integration


def _name() -> str:
    return "dy-" + uuid.uuid4().hex[:10]


def _state(d: Daemon, name: str) -> dict:
    return json.loads(d.docker("inspect", name, check=True).stdout)[0]


def test_on_failure_restarts_up_to_max(daemon: Daemon) -> None:
    name = _name()
    daemon.docker(
        "run",
        "-d",
        "--name",
        name,
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 3",
        check=True,
    )
    try:

        def restarted_twice_and_exited() -> bool:
            info = _state(daemon, name)
            return info["RestartCount"] == 2 and info["State"]["Status"] == "exited"

        wait_until(restarted_twice_and_exited, "two restarts, then exited")
        holds_for(lambda: _state(daemon, name)["RestartCount"] == 2, "no third restart", 1.0)
        info = _state(daemon, name)
        assert info["RestartCount"] == 2
        assert info["State"]["ExitCode"] == 3
    finally:
        daemon.docker("rm", "-f", name)


def test_always_restarts_but_not_after_stop(daemon: Daemon) -> None:
    name = _name()
    daemon.docker(
        "run",
        "-d",
        "--name",
        name,
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.2",
        check=True,
    )
    try:
        wait_until(lambda: _state(daemon, name)["RestartCount"] >= 1, "a first restart")
        daemon.docker("stop", "-t", "1", name, check=True)
        count = _state(daemon, name)["RestartCount"]

        def stopped_for_good() -> bool:
            info = _state(daemon, name)
            return info["State"]["Running"] is False and info["RestartCount"] == count

        holds_for(stopped_for_good, "stopped, with no restart after stop", 1.0)
    finally:
        daemon.docker("rm", "-f", name)


def test_no_restart_policy_by_default(daemon: Daemon) -> None:
    name = _name()
    daemon.docker("run", "--name", name, "busybox", "sh", "-c", "exit 1")
    try:
        holds_for(lambda: _state(daemon, name)["RestartCount"] == 0, "no restart", 0.5)
    finally:
        daemon.docker("rm", "-f", name)


def test_rm_and_restart_conflict(daemon: Daemon) -> None:
    r = daemon.docker("run", "--rm", "--restart", "always", "busybox", "true")
    assert r.returncode != 0
    assert "restart" in r.stderr.lower()


def test_health_becomes_healthy_then_unhealthy(daemon: Daemon) -> None:
    good, bad = _name(), _name()
    daemon.docker(
        "run",
        "-d",
        "--name",
        good,
        "--health-cmd",
        "test -e /tmp",
        "--health-interval",
        "300ms",
        "busybox",
        "sleep",
        "60",
        check=True,
    )
    daemon.docker(
        "run",
        "-d",
        "--name",
        bad,
        "--health-cmd",
        "exit 1",
        "--health-retries",
        "2",
        "--health-interval",
        "300ms",
        "busybox",
        "sleep",
        "60",
        check=True,
    )
    try:
        wait_until(
            lambda: _state(daemon, good)["State"]["Health"]["Status"] == "healthy", "healthy"
        )
        wait_until(
            lambda: _state(daemon, bad)["State"]["Health"]["Status"] == "unhealthy", "unhealthy"
        )
        health = _state(daemon, bad)["State"]["Health"]
        assert health["FailingStreak"] >= 2 and health["Log"][-1]["ExitCode"] == 1
        ps = daemon.docker("ps", "--filter", f"name={good}", "--format", "{{.Status}}").stdout
        assert "(healthy)" in ps
        ids = daemon.docker("ps", "-q", "--filter", "health=unhealthy", "--no-trunc").stdout
        assert _state(daemon, bad)["Id"] in ids
    finally:
        daemon.docker("rm", "-f", good, bad)


def test_init_is_pid1_and_reaps(daemon: Daemon) -> None:
    r = daemon.docker(
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$",
    )
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.splitlines()
    assert first.startswith("/sbin/docker-init")
    assert second.strip() != "1"


def test_ps_filters_and_update(daemon: Daemon) -> None:
    a, b = _name(), _name()
    daemon.docker("run", "-d", "--name", a, "-l", "team=x", "busybox", "sleep", "60", check=True)
    daemon.docker("run", "--name", b, "busybox", "sh", "-c", "exit 4")
    try:
        since = daemon.docker("ps", "-a", "--filter", f"since={a}", "--format", "{{.Names}}").stdout
        assert since.split() == [b]
        before = daemon.docker(
            "ps", "-a", "--filter", f"before={b}", "--format", "{{.Names}}"
        ).stdout
        assert a in before.split() and b not in before.split()
        exited = daemon.docker("ps", "-a", "--filter", "exited=4", "--format", "{{.Names}}").stdout
        assert exited.split() == [b]
        label = daemon.docker("ps", "--filter", "label=team=x", "--format", "{{.Names}}").stdout
        assert label.split() == [a]
        r = daemon.docker("update", "--restart", "on-failure:3", a)
        assert r.returncode == 0, r.stderr
        assert _state(daemon, a)["HostConfig"]["RestartPolicy"] == {
            "Name": "on-failure",
            "MaximumRetryCount": 3,
        }
    finally:
        daemon.docker("rm", "-f", a, b)


def test_events_since_until(daemon: Daemon) -> None:
    start = time.time()
    name = _name()
    daemon.docker("run", "--rm", "--name", name, "busybox", "true", check=True)
    r = daemon.docker(
        "events",
        "--since",
        f"{start:.3f}",
        "--until",
        f"{time.time() + 0.5:.3f}",
        "--filter",
        f"container={name}",
        "--format",
        "{{.Action}}",
    )
    assert r.returncode == 0, r.stderr
    actions = r.stdout.split()
    for action in ("create", "start", "die", "destroy"):
        assert action in actions, actions
    assert actions.index("create") < actions.index("start") < actions.index("die")


def test_container_prune(daemon: Daemon) -> None:
    keep, gone = _name(), _name()
    daemon.docker("run", "-d", "--name", keep, "busybox", "sleep", "60", check=True)
    daemon.docker("run", "--name", gone, "-l", "prune=me", "busybox", "true", check=True)
    try:
        r = daemon.docker("container", "prune", "-f", "--filter", "label=prune=me")
        assert r.returncode == 0, r.stderr
        assert _state(daemon, keep)["State"]["Running"]
        assert daemon.docker("inspect", gone).returncode == 1
        assert "Deleted Containers:" in r.stdout
    finally:
        daemon.docker("rm", "-f", keep, gone)


def test_not_a_swarm_node_and_no_plugins(daemon: Daemon) -> None:
    r = daemon.docker("service", "ls")
    assert r.returncode == 1
    assert "This node is not a swarm manager" in r.stderr
    r = daemon.docker("plugin", "ls")
    assert r.returncode == 0 and r.stdout.split()[:3] == ["ID", "NAME", "DESCRIPTION"]


def test_update_resources_of_a_running_container(daemon: Daemon) -> None:
    name = _name()
    daemon.docker(
        "run", "-d", "--name", name, "--memory", "64m", "busybox", "sleep", "60", check=True
    )
    try:
        r = daemon.docker(
            "update", "--memory", "96m", "--memory-swap", "192m", "--pids-limit", "50", name
        )
        assert r.returncode == 0, r.stderr
        r = daemon.docker(
            "exec",
            name,
            "cat",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/pids/pids.max",
        )
        assert r.stdout.split() == [str(96 * 1024 * 1024), "50"], r.stdout + r.stderr
        assert _state(daemon, name)["HostConfig"]["Memory"] == 96 * 1024 * 1024
        r = daemon.docker("update", "--memory", "1m", name)
        assert r.returncode != 0 and "Minimum memory limit allowed is 6MB" in r.stderr
    finally:
        daemon.docker("rm", "-f", name)


def test_restart_in_a_row(daemon: Daemon) -> None:
    """Restarts back to back: each new monitor (same id, same socket path, often the
    same host process) follows the previous one's `runtime delete` and unlink."""
    name = _name()
    daemon.docker("run", "-d", "--name", name, "busybox", "sleep", "60", check=True)
    try:
        pids = set()
        for _ in range(5):
            r = daemon.docker("restart", "-t", "0", name)
            assert r.returncode == 0, r.stderr
            info = _state(daemon, name)
            assert info["State"]["Running"] is True, info["State"]
            pids.add(info["State"]["Pid"])
        assert len(pids) == 5
        r = daemon.docker("exec", name, "true")
        assert r.returncode == 0, r.stderr
    finally:
        daemon.docker("rm", "-f", name)
