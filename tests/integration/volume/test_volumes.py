"""Volumes and mounts through the docker CLI (and docker-py) against a real dockyardd."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from collections.abc import Iterator

import pytest

from tests.conftest import Daemon


def _name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


@pytest.fixture
def cleanup(daemon: Daemon) -> Iterator[list[str]]:
    items: list[str] = []
    yield items
    cs = [i[2:] for i in items if i.startswith("c:")]
    if cs:
        daemon.docker("rm", "-f", "-v", *cs)
    vs = [i[2:] for i in items if i.startswith("v:")]
    if vs:
        daemon.docker("volume", "rm", "-f", *vs)


def test_named_volume_persists_and_ro_refuses(daemon: Daemon, cleanup: list[str]) -> None:
    v = _name("vol")
    cleanup.append("v:" + v)
    r = daemon.docker("volume", "create", "--label", "k=v", v, check=True)
    assert r.stdout.strip() == v
    daemon.docker("run", "--rm", "-v", f"{v}:/data", "busybox", "sh", "-c",
                  "echo hello > /data/f", check=True)  # fmt: skip
    r = daemon.docker("run", "--rm", "-v", f"{v}:/data:ro", "busybox", "sh", "-c",
                      "cat /data/f; echo x > /data/g && echo WROTE")  # fmt: skip
    assert r.stdout.strip() == "hello" and "Read-only file system" in r.stderr
    r = daemon.docker("run", "--rm", "--mount", f"type=volume,src={v},dst=/d,readonly",
                      "busybox", "touch", "/d/x")  # fmt: skip
    assert r.returncode != 0
    info = json.loads(daemon.docker("volume", "inspect", v, check=True).stdout)[0]
    assert info["Labels"] == {"k": "v"} and info["Driver"] == "local"
    assert open(os.path.join(info["Mountpoint"], "f")).read() == "hello\n"
    r = daemon.docker("volume", "ls", "--filter", "label=k=v", "--format", "{{.Name}}")
    assert v in r.stdout.split()


def test_in_use_refusal_prune_and_rm_v(daemon: Daemon, cleanup: list[str]) -> None:
    used, unused = _name("vol"), _name("vol")
    cleanup += ["v:" + used, "v:" + unused]
    daemon.docker("volume", "create", unused, check=True)
    c = _name("c")
    cleanup.append("c:" + c)
    daemon.docker("create", "--name", c, "-v", f"{used}:/u", "-v", "/anon", "busybox", check=True)
    r = daemon.docker("ps", "-a", "--filter", f"volume={used}", "--format", "{{.Names}}")
    assert r.stdout.split() == [c]
    r = daemon.docker("volume", "rm", used)
    assert r.returncode != 0 and "volume is in use" in r.stderr
    mounts = json.loads(daemon.docker("inspect", c).stdout)[0]["Mounts"]
    anon = next(m["Name"] for m in mounts if m["Destination"] == "/anon")
    r = daemon.docker("volume", "prune", "-a", "-f", "--filter", "label!=nothing")
    names = daemon.docker("volume", "ls", "-q").stdout.split()
    assert used in names and anon in names and unused not in names
    daemon.docker("rm", "-v", c, check=True)
    names = daemon.docker("volume", "ls", "-q").stdout.split()
    assert anon not in names and used in names  # rm -v removes only anonymous volumes


def test_volumes_from_and_copy_up(daemon: Daemon, cleanup: list[str]) -> None:
    c = _name("c")
    cleanup.append("c:" + c)
    # an anonymous volume over /etc is filled from the image (copy-up)
    daemon.docker("run", "-d", "--name", c, "-v", "/etc", "busybox", "sh", "-c",
                  "echo shared > /etc/marker; sleep 60", check=True)  # fmt: skip
    r = daemon.docker("run", "--rm", "--volumes-from", f"{c}:ro", "busybox", "sh", "-c",
                      "cat /etc/marker; grep -c root /etc/passwd; touch /etc/x || echo RO")  # fmt: skip
    lines = r.stdout.split()
    assert lines[0] == "shared" and int(lines[1]) >= 1 and lines[-1] == "RO", r.stderr
    v = _name("vol")
    cleanup.append("v:" + v)
    r = daemon.docker("run", "--rm", "--mount", f"type=volume,src={v},dst=/etc,volume-nocopy",
                      "busybox", "ls", "-A", "/etc")  # fmt: skip
    assert r.stdout.strip() == "" or "passwd" not in r.stdout


def test_binds_and_tmpfs(daemon: Daemon) -> None:
    with tempfile.TemporaryDirectory() as host:
        missing = os.path.join(host, "made", "by", "v")
        daemon.docker("run", "--rm", "-v", f"{missing}:/h", "busybox", "sh", "-c",
                      "echo hi > /h/x", check=True)  # fmt: skip
        assert open(os.path.join(missing, "x")).read() == "hi\n"
        r = daemon.docker("run", "--rm", "--mount",
                          f"type=bind,src={host}/absent,dst=/h", "busybox", "true")  # fmt: skip
        assert r.returncode != 0 and "bind source path does not exist" in r.stderr
        assert not os.path.exists(f"{host}/absent")
    r = daemon.docker("run", "--rm", "--tmpfs", "/t:size=1m", "--mount",
                      "type=tmpfs,dst=/u,tmpfs-size=2097152", "busybox", "sh", "-c",
                      "grep -E ' /t | /u ' /proc/mounts")  # fmt: skip
    assert "tmpfs /t tmpfs" in r.stdout and "size=1024k" in r.stdout
    assert "tmpfs /u tmpfs" in r.stdout and "size=2048k" in r.stdout


def test_local_driver_tmpfs_and_bind_options(daemon: Daemon, cleanup: list[str]) -> None:
    v, b = _name("vol"), _name("vol")
    cleanup += ["v:" + v, "v:" + b]
    daemon.docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs",
                  "-o", "o=size=1m", v, check=True)  # fmt: skip
    kept = _name("c")  # not removed: the volume is unmounted when the container exits
    cleanup.append("c:" + kept)
    r = daemon.docker("run", "--name", kept, "-v", f"{v}:/m", "busybox", "grep", " /m ",
                      "/proc/mounts")  # fmt: skip
    assert "tmpfs" in r.stdout, r.stderr
    mountpoint = json.loads(daemon.docker("volume", "inspect", v).stdout)[0]["Mountpoint"]
    for _ in range(50):  # unmounted once no container uses it
        if mountpoint not in daemon.mounts_under_root():
            break
        time.sleep(0.1)
    assert mountpoint not in daemon.mounts_under_root()
    with tempfile.TemporaryDirectory() as host:
        daemon.docker("volume", "create", "-o", "type=none", "-o", f"device={host}",
                      "-o", "o=bind", b, check=True)  # fmt: skip
        daemon.docker("run", "--rm", "-v", f"{b}:/m", "busybox", "sh", "-c",
                      "echo via-volume > /m/f", check=True)  # fmt: skip
        assert open(os.path.join(host, "f")).read() == "via-volume\n"
        daemon.docker("volume", "rm", b, check=True)
        assert os.path.exists(os.path.join(host, "f"))  # the device's data is not removed
    assert not [m for m in daemon.mounts_under_root() if "/volumes/" in m]


def test_docker_py_volumes_and_networks(daemon: Daemon) -> None:
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=daemon.host)
    v = client.volumes.create(_name("vol"), labels={"via": "py"})
    n = client.networks.create(_name("net"), driver="bridge")
    try:
        out = client.containers.run("busybox", "sh -c 'echo ok > /v/f; cat /v/f'",
                                    volumes={v.name: {"bind": "/v", "mode": "rw"}},
                                    network=n.name, remove=True)  # fmt: skip
        assert out == b"ok\n"
        assert v.name in [x.name for x in client.volumes.list(filters={"label": "via=py"})]
        assert client.networks.get(n.id).name == n.name
    finally:
        n.remove()
        v.remove()
        client.close()
