"""The walking skeleton, as a Docker user drives it: the official docker CLI
(28.x, first on PATH) against a real dockyardd."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from tests.conftest import Daemon

pytestmark = pytest.mark.integration


def _name() -> str:
    return "dy-" + uuid.uuid4().hex[:10]


def test_version_reports_api(daemon: Daemon) -> None:
    r = daemon.docker("version", "--format", "{{json .Server}}", check=True)
    server = json.loads(r.stdout)
    assert server["ApiVersion"] == "1.45"
    assert server["MinAPIVersion"] == "1.24"
    assert server["Os"] == "linux"


def test_run_rm_echo(daemon: Daemon) -> None:
    name = f"rm-echo-{uuid.uuid4().hex[:8]}"
    r = daemon.docker("run", "--rm", "--name", name, "busybox", "echo", "hello from dockyard")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello from dockyard\n"
    # --rm removed it (other tests' containers may be there: filter on this one's name)
    assert daemon.docker("ps", "-aq", "--filter", f"name=^{name}$").stdout.strip() == ""
    assert not [m for m in daemon.mounts_under_root() if m.endswith("/rootfs")]


def test_run_exit_code(daemon: Daemon) -> None:
    r = daemon.docker("run", "--rm", "busybox", "sh", "-c", "exit 3")
    assert r.returncode == 3


def test_stderr_stays_stderr(daemon: Daemon) -> None:
    r = daemon.docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert r.stdout == "out\n"
    assert r.stderr == "err\n"


def test_missing_command_exit_127(daemon: Daemon) -> None:
    r = daemon.docker("run", "--rm", "busybox", "nosuchcommand")
    assert r.returncode == 127
    assert 'exec: "nosuchcommand": executable file not found in $PATH' in r.stderr


def test_missing_image(daemon: Daemon) -> None:
    r = daemon.docker("run", "--rm", "nosuchimage:1.0", "true")
    assert r.returncode == 125
    assert "Unable to find image 'nosuchimage:1.0' locally" in r.stderr


def test_isolation_inside_container(daemon: Daemon) -> None:
    name = _name()
    script = (
        "echo pid1=$(cat /proc/1/comm); echo host=$(hostname); "
        "echo comms=$(cat /proc/[0-9]*/comm | sort -u | tr '\\n' ,); "
        "echo root=$(readlink /proc/1/root); "
        "echo leaked=$(awk '{print $5}' /proc/self/mountinfo | grep -c \"$HOSTROOT\")"
    )
    r = daemon.docker(
        "run", "--name", name, "-e", f"HOSTROOT={daemon.root}", "busybox", "sh", "-c", script
    )
    try:
        assert r.returncode == 0, r.stderr
        out = dict(line.split("=", 1) for line in r.stdout.split())
        cid = json.loads(daemon.docker("inspect", name, check=True).stdout)[0]["Id"]
        assert out["pid1"] == "sh"
        assert out["host"] == cid[:12]
        # Only the container's own processes: a handful (sh and the pipeline it forked,
        # which may be caught between fork and exec under any name busybox gives it),
        # none of the host's hundreds (dockyardd, python, kernel threads, ...).
        comms = set(out["comms"].strip(",").split(","))
        assert len(comms) <= 6 and not comms & {"dockyardd", "python3", "kthreadd", "pytest"}
        assert out["root"] == "/"
        # The host's mount points (the container's own rootfs mount among them, under
        # the daemon's root) are not visible inside: pivot_root detached them.
        assert out["leaked"] == "0"
    finally:
        daemon.docker("rm", "-f", name)


def test_pid1_is_the_command(daemon: Daemon) -> None:
    r = daemon.docker("run", "--rm", "busybox", "sh", "-c", "echo $$")
    assert r.stdout.strip() == "1"


def test_env_workdir_user_entrypoint(daemon: Daemon) -> None:
    r = daemon.docker(
        "run",
        "--rm",
        "-e",
        "FOO=bar",
        "-w",
        "/tmp/work",
        "-u",
        "nobody",
        "busybox",
        "sh",
        "-c",
        'echo "$FOO $(pwd) $(id -u) $HOSTNAME"',
    )
    assert r.returncode == 0, r.stderr
    foo, cwd, uid, host = r.stdout.split()
    assert (foo, cwd, uid) == ("bar", "/tmp/work", "65534")
    assert len(host) == 12
    r = daemon.docker("run", "--rm", "--entrypoint", "echo", "busybox", "a", "b")
    assert r.stdout == "a b\n"


def test_ps_logs_rm(daemon: Daemon) -> None:
    name = _name()
    r = daemon.docker(
        "run", "-d", "--name", name, "busybox", "sh", "-c", "echo line1; echo line2 >&2; sleep 300"
    )
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert len(cid) == 64
    try:
        ps = daemon.docker("ps", "--no-trunc", check=True).stdout
        assert cid in ps and name in ps
        header = ps.splitlines()[0]
        for col in ("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"):
            assert col in header
        assert "Up " in ps
        for _ in range(50):
            logs = daemon.docker("logs", name)
            if "line1" in logs.stdout and "line2" in logs.stderr:
                break
        assert logs.stdout == "line1\n"
        assert logs.stderr == "line2\n"
    finally:
        rm = daemon.docker("rm", "-f", name)
    assert rm.returncode == 0, rm.stderr
    assert rm.stdout.strip() == name
    assert cid not in daemon.docker("ps", "-a", "--no-trunc").stdout
    assert not os.path.exists(daemon.root / "data" / "containers" / cid)
    assert not [m for m in daemon.mounts_under_root() if cid in m]


def test_ps_all_shows_exited(daemon: Daemon) -> None:
    name = _name()
    daemon.docker("run", "--name", name, "busybox", "sh", "-c", "exit 7")
    try:
        ps = daemon.docker(
            "ps", "-a", "--filter", f"name={name}", "--format", "{{.Names}} {{.Status}}", check=True
        ).stdout
        assert ps.startswith(f"{name} Exited (7)")
        state = json.loads(daemon.docker("inspect", name, check=True).stdout)[0]["State"]
        assert state["Status"] == "exited" and state["ExitCode"] == 7
    finally:
        daemon.docker("rm", name)


def test_stop_and_kill(daemon: Daemon) -> None:
    name = _name()
    daemon.docker("run", "-d", "--name", name, "busybox", "sleep", "300", check=True)
    try:
        r = daemon.docker("stop", "-t", "1", name)
        assert r.returncode == 0, r.stderr
        state = json.loads(daemon.docker("inspect", name).stdout)[0]["State"]
        assert state["Running"] is False
        assert state["ExitCode"] == 137  # sleep as PID 1 ignores SIGTERM
        r = daemon.docker("kill", name)
        assert r.returncode != 0 and "is not running" in r.stderr
        daemon.docker("start", name, check=True)
        r = daemon.docker("kill", name)
        assert r.returncode == 0
        state = json.loads(daemon.docker("inspect", name).stdout)[0]["State"]
        assert state["ExitCode"] == 137
    finally:
        daemon.docker("rm", "-f", name)


def test_errors_are_dockers(daemon: Daemon) -> None:
    r = daemon.docker("rm", "nosuchcontainer")
    assert r.returncode == 1
    assert "Error response from daemon: No such container: nosuchcontainer" in r.stderr
    r = daemon.docker("logs", "nosuchcontainer")
    assert "No such container: nosuchcontainer" in r.stderr
    name = _name()
    daemon.docker("run", "-d", "--name", name, "busybox", "sleep", "300", check=True)
    try:
        r = daemon.docker("rm", name)
        assert r.returncode == 1 and "cannot remove a running container" in r.stderr.lower()
        r = daemon.docker("run", "-d", "--name", name, "busybox", "true")
        assert r.returncode == 125 and "is already in use" in r.stderr
    finally:
        daemon.docker("rm", "-f", name)


def test_images_lists_busybox(daemon: Daemon) -> None:
    r = daemon.docker("images", check=True)
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["REPOSITORY", "TAG", "IMAGE"]
    assert any(line.split()[:2] == ["busybox", "latest"] for line in lines[1:])
    img = json.loads(daemon.docker("image", "inspect", "busybox", check=True).stdout)[0]
    assert img["Id"].startswith("sha256:")
    assert img["Config"]["Cmd"] == ["sh"]
    assert "busybox:latest" in img["RepoTags"]
