"""exec through the docker CLI and docker-py: streams, exit codes, stdin,
user/workdir/env, detach, inspect, errors worded as dockerd's."""

from __future__ import annotations

import json
import time

import docker
import pytest

from tests.conftest import Daemon
from tests.integration.exec.conftest import unique

pytestmark = pytest.mark.integration


def test_exec_streams_and_exit_code(daemon: Daemon, running: str) -> None:
    r = daemon.docker("exec", running, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")


def test_exec_joins_the_container(daemon: Daemon, running: str) -> None:
    r = daemon.docker("exec", running, "sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '")
    hostname, cmdline = r.stdout.splitlines()
    assert (
        hostname == daemon.docker("inspect", "-f", "{{.Config.Hostname}}", running).stdout.strip()
    )
    assert cmdline.strip() == "sleep 600"  # same PID namespace: the container's init is PID 1
    pid = int(daemon.docker("inspect", "-f", "{{.State.Pid}}", running).stdout)
    with open(f"/proc/{pid}/cgroup") as f:
        init_cgroups = f.read()
    r = daemon.docker("exec", running, "cat", "/proc/self/cgroup")
    assert r.stdout == init_cgroups.replace(f"/dockyard/{pid}", "")  # same cgroups


def test_exec_user_workdir_env(daemon: Daemon, running: str) -> None:
    r = daemon.docker(
        "exec", "-u", "nobody", "-w", "/tmp", "-e", "FOO=bar", running,
        "sh", "-c", "id -u; id -g; pwd; echo $FOO; echo $PATH",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:4] == ["65534", "65534", "/tmp", "bar"]
    r = daemon.docker("exec", "-u", "nosuchuser", running, "true")
    assert r.returncode != 0
    # as dockerd: a start error goes down the (already hijacked) output stream
    assert "unable to find user nosuchuser" in r.stdout + r.stderr


def test_exec_stdin(daemon: Daemon, running: str) -> None:
    r = daemon.docker("exec", "-i", running, "sh", "-c", "cat; echo done", input=b"hello\n")
    assert (r.returncode, r.stdout) == (0, "hello\ndone\n")


def test_exec_detached_runs_on(daemon: Daemon, running: str) -> None:
    r = daemon.docker("exec", "-d", running, "sh", "-c", "sleep 3; echo yes > /tmp/flag")
    assert (r.returncode, r.stdout) == (0, "")
    assert daemon.docker("exec", running, "cat", "/tmp/flag").returncode == 1
    deadline = time.monotonic() + 10
    while daemon.docker("exec", running, "cat", "/tmp/flag").stdout != "yes\n":
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_exec_errors(daemon: Daemon, running: str, names: list[str]) -> None:
    r = daemon.docker("exec", running, "nosuchcommand")
    assert r.returncode == 126
    assert "OCI runtime exec failed" in r.stdout + r.stderr
    assert 'exec: "nosuchcommand": executable file not found in $PATH' in r.stdout + r.stderr
    stopped = unique()
    names.append(stopped)
    daemon.docker("create", "--network", "none", "--name", stopped, "busybox", "true", check=True)
    cid = daemon.docker("inspect", "-f", "{{.Id}}", stopped).stdout.strip()
    r = daemon.docker("exec", stopped, "true")
    assert r.returncode != 0
    assert f"Error response from daemon: Container {cid} is not running" in r.stderr
    r = daemon.docker("exec", "nosuchcontainer-x", "true")
    assert "No such container: nosuchcontainer-x" in r.stderr


def test_exec_api_inspect(client: docker.DockerClient, running: str) -> None:
    api = client.api
    eid = api.exec_create(running, ["sh", "-c", "echo api; exit 9"])["Id"]
    before = api.exec_inspect(eid)
    assert before["Running"] is False and before["ExitCode"] is None
    assert before["ProcessConfig"]["entrypoint"] == "sh"
    out = api.exec_start(eid)
    assert out == b"api\n"
    after = api.exec_inspect(eid)
    assert after["ExitCode"] == 9 and after["Running"] is False and after["Pid"] > 0
    with pytest.raises(docker.errors.APIError) as info:
        api.exec_start(eid)
    assert info.value.status_code == 409
    with pytest.raises(docker.errors.NotFound):
        api.exec_inspect("0" * 64)


def test_exec_run_docker_py(client: docker.DockerClient, running: str) -> None:
    c = client.containers.get(running)
    res = c.exec_run(["sh", "-c", "echo o; echo e >&2; exit 2"], demux=True)
    assert res.exit_code == 2
    assert res.output == (b"o\n", b"e\n")
    res = c.exec_run("id -un", user="nobody", environment={"X": "1"}, workdir="/tmp")
    assert (res.exit_code, res.output) == (0, b"nobody\n")
    res = c.exec_run("sh -c 'echo $X; pwd'", environment={"X": "1"}, workdir="/tmp")
    assert res.output == b"1\n/tmp\n"
    res = c.exec_run("tty", tty=True)
    assert res.exit_code == 0 and res.output.startswith(b"/dev/pts/")
    stream = c.exec_run(["sh", "-c", "for i in 1 2 3; do echo $i; done"], stream=True)
    assert b"".join(stream.output) == b"1\n2\n3\n"


def test_exec_events(daemon: Daemon, running: str) -> None:
    since = str(time.time() - 1)
    daemon.docker("exec", running, "true", check=True)
    until = str(time.time() + 1)
    r = daemon.docker(
        "events", "--since", since, "--until", until, "--format", "{{json .}}",
        "--filter", f"container={running}",
    )  # fmt: skip
    actions = [json.loads(line)["Action"] for line in r.stdout.splitlines()]
    assert "exec_create: true" in actions
    assert "exec_start: true" in actions
    assert "exec_die" in actions
