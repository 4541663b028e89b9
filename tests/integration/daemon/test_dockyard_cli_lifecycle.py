"""Dockyard's own CLI for the life-cycle features: --restart, --health-*, --init,
update and events, against a real dockyardd."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.conftest import Daemon

pytestmark = pytest.mark.integration


def _name() -> str:
    return "dy-" + uuid.uuid4().hex[:10]


def test_health_flags_and_update(daemon: Daemon) -> None:
    name = _name()
    r = daemon.dockyard(
        "run",
        "-d",
        "--name",
        name,
        "--health-cmd",
        "true",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "60",
    )
    assert r.returncode == 0, r.stderr
    try:
        cfg = json.loads(daemon.docker("inspect", name, check=True).stdout)[0]["Config"]
        assert cfg["Healthcheck"] == {
            "Test": ["CMD-SHELL", "true"],
            "Interval": 200_000_000,
            "Retries": 2,
        }
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            st = daemon.dockyard("ps", "--filter", f"name={name}", "--format", "{{.Status}}")
            if "(healthy)" in st.stdout:
                break
            time.sleep(0.2)
        assert "(healthy)" in st.stdout
        r = daemon.dockyard("update", "--restart", "always", name)
        assert r.returncode == 0 and r.stdout.strip() == name, r.stderr
        hc = json.loads(daemon.docker("inspect", name, check=True).stdout)[0]["HostConfig"]
        assert hc["RestartPolicy"]["Name"] == "always"
        r = daemon.dockyard("update", "--restart", "always", "nosuchcontainer")
        assert r.returncode == 1 and "No such container: nosuchcontainer" in r.stderr
    finally:
        daemon.docker("rm", "-f", name)


def test_bad_health_duration(daemon: Daemon) -> None:
    r = daemon.dockyard("run", "--rm", "--health-interval", "soon", "busybox", "true")
    assert r.returncode == 125
    assert "soon" in r.stderr


def test_events_through_our_cli(daemon: Daemon) -> None:
    start = time.time()
    name = _name()
    daemon.dockyard("run", "--rm", "--name", name, "busybox", "true", check=True)
    r = daemon.dockyard(
        "events",
        "--since",
        f"{start:.3f}",
        "--until",
        f"{time.time() + 0.3:.3f}",
        "--filter",
        f"container={name}",
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    actions = [line.split()[2] for line in lines]
    # as dockerd: `run` attaches before it starts
    assert actions[:3] == ["create", "attach", "start"] and "destroy" in actions
    assert f"name={name}" in lines[0]


@pytest.mark.parametrize("policy", ["bogus", "always:3", "on-failure:x", ":3", "no:1"])
def test_update_restart_parsed_as_docker_does(daemon: Daemon, policy: str) -> None:
    """`dockyard update --restart` reads the policy as `run` does and as the docker CLI
    does (the format on the client, the name the daemon's to check): same exit, same words."""
    name = _name()
    daemon.docker("create", "--name", name, "--network", "none", "busybox", "true", check=True)
    try:
        ours = daemon.dockyard("update", "--restart", policy, name)
        theirs = daemon.docker("update", "--restart", policy, name)
        assert theirs.returncode != 0, theirs.stdout
        assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr)
        hc = json.loads(daemon.docker("inspect", name, check=True).stdout)[0]["HostConfig"]
        assert hc["RestartPolicy"]["Name"] == "no"
    finally:
        daemon.docker("rm", "-f", name)


@pytest.mark.parametrize(
    "command", ["start", "stop", "kill", "restart", "pause", "unpause", "wait"]
)
def test_errors_for_each_container_as_docker_prints_them(daemon: Daemon, command: str) -> None:
    """The commands that act on each named container report the ones that failed as
    the docker CLI 28 does: the daemon's errors, then `failed to start containers`
    for `start` only (`unpause` and `update` printed one too), exit 1."""
    missing = "nosuch-" + _name()
    ours = daemon.dockyard(command, missing)
    theirs = daemon.docker(command, missing)
    assert theirs.returncode != 0
    assert (ours.returncode, ours.stdout, ours.stderr) == (
        theirs.returncode, theirs.stdout, theirs.stderr)  # fmt: skip


def test_start_names_only_the_containers_that_failed(daemon: Daemon) -> None:
    name = _name()
    daemon.docker("create", "--name", name, "--network", "none", "busybox", "true", check=True)
    try:
        args = ("start", name, "nosuch-" + name)
        ours, theirs = daemon.dockyard(*args), daemon.docker(*args)
        assert f"failed to start containers: nosuch-{name}\n" in theirs.stderr
        assert (ours.returncode, ours.stdout, ours.stderr) == (
            theirs.returncode, theirs.stdout, theirs.stderr)  # fmt: skip
    finally:
        daemon.docker("rm", "-f", name)
