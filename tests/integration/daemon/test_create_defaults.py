"""What dockerd records and refuses at create, through the official docker CLI: the
HostConfig defaults inspect shows, Config merging (Env, `--entrypoint ""`), restart
policy and runtime checks, `--gpus` without a device driver, MaskedPaths and
cgroupns honoured."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid

import pytest

from tests.conftest import Daemon

pytestmark = pytest.mark.integration


def _name() -> str:
    return "dy-" + uuid.uuid4().hex[:10]


def _inspect(d: Daemon, name: str) -> dict:
    return json.loads(d.docker("inspect", name, check=True).stdout)[0]


def test_hostconfig_defaults_as_dockerd_records_them(daemon: Daemon) -> None:
    plain, priv = _name(), _name()
    try:
        daemon.docker("create", "--name", plain, "busybox", "true", check=True)
        daemon.docker("create", "--name", priv, "--privileged", "busybox", "true", check=True)
        hc = _inspect(daemon, plain)["HostConfig"]
        assert hc["ShmSize"] == 64 << 20 and hc["IpcMode"] == "private"
        v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        assert hc["CgroupnsMode"] == ("private" if v2 else "host")
        assert hc["Runtime"] and hc["LogConfig"]["Type"] == "json-file"
        assert "/proc/timer_list" in hc["MaskedPaths"] and "/proc/sys" in hc["ReadonlyPaths"]
        hp = _inspect(daemon, priv)["HostConfig"]
        assert hp["MaskedPaths"] is None and hp["ReadonlyPaths"] is None
    finally:
        daemon.docker("rm", "-f", plain, priv)


def test_config_merge_env_order_and_empty_entrypoint(daemon: Daemon) -> None:
    n = _name()
    try:
        daemon.docker(
            "create", "--name", n, "-e", "B=2", "-e", "A=1", "--entrypoint", "", "busybox",
            "echo", "hi", check=True,
        )  # fmt: skip
        cfg = _inspect(daemon, n)["Config"]
        # the user's first, then the image's; docker's CLI 28 does not keep the order of -e
        # values (it rebuilds them through a Go map), so only the set is promised
        assert sorted(cfg["Env"][:2]) == ["A=1", "B=2"]
        assert any(e.startswith("PATH=") for e in cfg["Env"][2:])
        assert cfg["Entrypoint"] is None and cfg["Cmd"] == ["echo", "hi"]
        r = daemon.docker("start", "-a", n)
        assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    finally:
        daemon.docker("rm", "-f", n)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--restart", "sometimes"], "invalid restart policy: unknown policy 'sometimes'"),
        (["--restart", "always:3"], "maximum retry count can only be used with 'on-failure'"),
        (["--runtime", "nosuch"], "Unknown runtime specified nosuch"),
        (["--cgroupns", "private", "--privileged", "--restart", "bogus"], "unknown policy 'bogus'"),
    ],
)
def test_refused_at_create(daemon: Daemon, flags: list[str], message: str) -> None:
    n = _name()
    r = daemon.docker("create", "--name", n, *flags, "busybox", "true")
    assert r.returncode != 0 and message in r.stderr, r.stderr
    assert daemon.docker("inspect", n).returncode != 0  # nothing was created


def test_gpus_without_a_driver_fail_the_start_and_end_the_attach(daemon: Daemon) -> None:
    n = _name()
    try:
        r = daemon.docker(
            "run", "--rm", "--name", n, "--gpus", "all", "busybox", "true", timeout=30
        )
        assert r.returncode == 125
        assert 'could not select device driver "" with capabilities: [[gpu]]' in r.stderr
        # the API: an attach stream open before a start that fails is ended by the daemon
        daemon.docker("create", "--name", n, "--gpus", "all", "busybox", "true", check=True)
        s = socket.socket(socket.AF_UNIX)
        s.connect(daemon.sock)
        s.sendall(
            f"POST /v1.45/containers/{n}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\n"
            "Host: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n".encode()
        )
        s.settimeout(10)
        assert b"101" in s.recv(4096).split(b"\r\n")[0]
        assert daemon.docker("start", n).returncode != 0
        start = time.monotonic()
        while s.recv(4096):  # EOF once the start failed
            pass
        assert time.monotonic() - start < 5
        s.close()
    finally:
        daemon.docker("rm", "-f", n)


def test_masked_paths_and_cgroupns_reach_the_container(daemon: Daemon) -> None:
    r = daemon.docker("run", "--rm", "busybox", "stat", "-c", "%t,%T", "/proc/timer_list")
    assert r.stdout.strip() == "1,3", r.stderr  # masked: /dev/null over it
    # the docker CLI sends systempaths=unconfined as empty MaskedPaths/ReadonlyPaths
    r = daemon.docker(
        "run", "--rm", "--security-opt", "systempaths=unconfined", "busybox",
        "stat", "-c", "%t,%T", "/proc/timer_list",
    )  # fmt: skip
    assert r.stdout.strip() == "0,0", r.stderr
    host = os.readlink("/proc/self/ns/cgroup")
    r = daemon.docker(
        "run", "--rm", "--cgroupns", "private", "busybox", "readlink", "/proc/self/ns/cgroup"
    )
    assert r.returncode == 0 and r.stdout.strip() != host, r.stderr
    if not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):  # v1: the host's, as dockerd
        r = daemon.docker("run", "--rm", "busybox", "readlink", "/proc/self/ns/cgroup")
        assert r.stdout.strip() == host


def test_container_network_mode_is_kept_by_id(daemon: Daemon) -> None:
    base, joiner = _name(), _name()
    try:
        daemon.docker("run", "-d", "--name", base, "busybox", "sleep", "60", check=True)
        daemon.docker("run", "-d", "--name", joiner, "--network", f"container:{base}",
                      "busybox", "sleep", "60", check=True)  # fmt: skip
        base_id = _inspect(daemon, base)["Id"]
        assert _inspect(daemon, joiner)["HostConfig"]["NetworkMode"] == f"container:{base_id}"
        mine = daemon.docker("exec", joiner, "readlink", "/proc/self/ns/net", check=True).stdout
        theirs = daemon.docker("exec", base, "readlink", "/proc/self/ns/net", check=True).stdout
        assert mine == theirs
    finally:
        daemon.docker("rm", "-f", joiner, base)
