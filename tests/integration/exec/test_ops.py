"""pause/unpause, rename, top, stats, diff, export and resize through the
docker CLI and docker-py, checked against what the kernel says."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import time

import docker
import pytest

from tests.conftest import Daemon
from tests.integration.exec.conftest import unique
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def _freezer_state(cid: str) -> str:
    with open(f"/sys/fs/cgroup/freezer/dockyard/{cid}/freezer.state") as f:
        return f.read().strip()


def _id(daemon: Daemon, name: str) -> str:
    return daemon.docker("inspect", "-f", "{{.Id}}", name).stdout.strip()


def test_pause_unpause(daemon: Daemon, running: str) -> None:
    cid = _id(daemon, running)
    time.sleep(0.01)
    since = f"{time.time():.6f}"
    assert daemon.docker("pause", running).returncode == 0
    assert _freezer_state(cid) == "FROZEN"
    fmt = "{{.State.Status}} {{.State.Paused}} {{.State.Running}}"
    assert daemon.docker("inspect", "-f", fmt, running).stdout.strip() == "paused true true"
    assert "(Paused)" in daemon.docker("ps", "--filter", f"name={running}").stdout
    r = daemon.docker("pause", running)
    assert f"Container {cid} is already paused" in r.stderr
    r = daemon.docker("exec", running, "true")
    assert f"Container {running} is paused, unpause the container before exec" in r.stderr
    assert daemon.docker("unpause", running).returncode == 0
    assert _freezer_state(cid) == "THAWED"
    assert daemon.docker("inspect", "-f", fmt, running).stdout.strip() == "running false true"
    r = daemon.docker("unpause", running)
    assert f"Container {cid} is not paused" in r.stderr
    assert daemon.docker("exec", running, "true").returncode == 0
    r = daemon.docker(
        "events", "--since", since, "--until", str(time.time() + 1), "--format", "{{.Action}}",
        "--filter", f"container={running}",
    )  # fmt: skip
    assert r.stdout.splitlines() == ["pause", "unpause", "exec_create: true", "exec_start: true",
                                "exec_die"]  # fmt: skip


def test_pause_needs_a_running_container(daemon: Daemon, names: list[str]) -> None:
    n = unique()
    names.append(n)
    daemon.docker("create", "--network", "none", "--name", n, "busybox", "true", check=True)
    r = daemon.docker("pause", n)
    assert f"Container {_id(daemon, n)} is not running" in r.stderr


def test_rename(daemon: Daemon, running: str, names: list[str]) -> None:
    new = unique("renamed")
    names.append(new)
    assert daemon.docker("rename", running, new).returncode == 0
    assert daemon.docker("inspect", "-f", "{{.Name}}", new).stdout.strip() == "/" + new
    assert "No such container" in daemon.docker("container", "inspect", running).stderr
    other = unique()
    names.append(other)
    daemon.docker("create", "--network", "none", "--name", other, "busybox", check=True)
    r = daemon.docker("rename", other, new)
    assert f'The container name "/{new}" is already in use' in r.stderr
    r = daemon.docker("rename", new, new)
    assert "Renaming a container with the same name as its current name" in r.stderr
    # the old name is free again
    assert daemon.docker("rename", other, running).returncode == 0


def test_top(daemon: Daemon, running: str, client: docker.DockerClient) -> None:
    daemon.docker("exec", "-d", running, "sleep", "123", check=True)
    r = wait_until(
        lambda: (
            (t := daemon.docker("top", running)).returncode == 0 and "sleep 123" in t.stdout and t
        ),
        "the exec'd sleep in top",
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["UID", "PID", "PPID"]
    cmds = sorted(line.split(None, 7)[7] for line in lines[1:])
    assert cmds == ["sleep 123", "sleep 600"]
    pid = daemon.docker("inspect", "-f", "{{.State.Pid}}", running).stdout.strip()
    assert any(line.split()[1] == pid for line in lines[1:])
    top = client.api.top(running, ps_args="-o pid,comm")
    assert top["Titles"] == ["PID", "COMMAND"]
    assert sorted(p[1] for p in top["Processes"]) == ["sleep", "sleep"]


def test_stats(daemon: Daemon, running: str, client: docker.DockerClient) -> None:
    # memory the kernel charges to the container's cgroup
    daemon.docker("exec", running, "sh", "-c", "head -c 20000000 /dev/zero > /tmp/fill", check=True)
    r = daemon.docker("stats", "--no-stream", "--format", "{{json .}}", running)
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    assert row["Name"] == running and row["PIDs"] == "1"
    assert row["MemUsage"].split(" / ")[0] != "0B"
    cid = _id(daemon, running)
    with open(f"/sys/fs/cgroup/memory/dockyard/{cid}/memory.usage_in_bytes") as f:
        usage = int(f.read())
    s = client.api.stats(running, stream=False)
    assert s["id"] == cid and s["name"] == "/" + running
    assert abs(s["memory_stats"]["usage"] - usage) < 4 << 20
    assert s["memory_stats"]["stats"]["total_cache"] >= 19 << 20  # the tmpfs-less /tmp file
    assert s["pids_stats"]["current"] == 1
    assert s["cpu_stats"]["system_cpu_usage"] > s["precpu_stats"]["system_cpu_usage"] > 0
    assert s["cpu_stats"]["online_cpus"] >= 1
    stream = client.api.stats(running, stream=True, decode=True)
    first, second = next(stream), next(stream)
    assert (
        second["precpu_stats"]["cpu_usage"]["total_usage"]
        == (first["cpu_stats"]["cpu_usage"]["total_usage"])
    )
    stream.close()  # type: ignore[attr-defined]


def test_stats_of_a_stopped_container(daemon: Daemon, names: list[str]) -> None:
    n = unique()
    names.append(n)
    daemon.docker("create", "--network", "none", "--name", n, "busybox", "true", check=True)
    r = daemon.docker("stats", "--no-stream", "--format", "{{.MemUsage}} {{.PIDs}}", n)
    assert (r.returncode, r.stdout.strip()) == (0, "0B / 0B 0")


def test_diff_and_export(daemon: Daemon, running: str) -> None:
    daemon.docker(
        "exec", running, "sh", "-c", "echo x > /tmp/new; rm /bin/true; mkdir -p /a/b", check=True
    )
    r = daemon.docker("diff", running)
    assert r.returncode == 0, r.stderr
    lines = set(r.stdout.splitlines())
    assert {"A /tmp/new", "D /bin/true", "C /bin", "A /a", "A /a/b"} <= lines
    assert not any("hostname" in line or "resolv.conf" in line for line in lines)
    p = subprocess.run(["docker", "export", running], env=daemon.env(), capture_output=True)
    assert p.returncode == 0, p.stderr
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as tf:
        names = set(tf.getnames())
        assert "./tmp/new" in names and "./bin/busybox" in names and "./bin/true" not in names
        assert tf.extractfile("./tmp/new").read() == b"x\n"


def test_resize_needs_a_running_container(
    client: docker.DockerClient, daemon: Daemon, names: list[str]
) -> None:
    n = unique()
    names.append(n)
    daemon.docker("create", "--network", "none", "--name", n, "busybox", check=True)
    with pytest.raises(docker.errors.APIError) as info:
        client.api.resize(n, 10, 10)
    assert info.value.status_code == 409


def test_a_paused_container_can_be_stopped_and_removed(daemon: Daemon, names: list[str]) -> None:
    for verb in ("stop", "rm"):
        n = unique()
        names.append(n)
        daemon.docker("run", "-d", "--network", "none", "--name", n, "busybox", "sleep", "600",
                      check=True)  # fmt: skip
        daemon.docker("pause", n, check=True)
        t0 = time.monotonic()
        args = ["stop", "-t", "1", n] if verb == "stop" else ["rm", "-f", n]
        r = daemon.docker(*args, timeout=20)
        assert r.returncode == 0, r.stderr
        assert time.monotonic() - t0 < 8
    r = daemon.docker("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", names[0])
    assert r.stdout.strip() == "exited false"
