"""Namespaces taken from another container or the host, through the docker CLI, against
dockyardd and (when installed) a peer dockerd, with the same expectations: `--pid
container:X` sees X's processes, `--ipc container:X` is in X's IPC namespace (X
shareable), both refused with dockerd's words when X is missing, stopped or not
shareable; `--network container:X` has X's hostname, `--network host` and `--uts host`
the host's; `--pid host` sees the host's init."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid

import pytest

from tests.conftest import Daemon

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.integration,
]


def _donor(e, *flags: str) -> tuple[str, str]:
    name = f"ns-{uuid.uuid4().hex[:8]}"
    r = e.docker("run", "-d", "--network", "none", "--name", name, *flags, "busybox",
                 "sleep", "300")  # fmt: skip
    assert r.returncode == 0, r.stderr
    e.made.append(name)
    return name, r.stdout.strip()


def _run(e, *args: str) -> subprocess.CompletedProcess[str]:
    return e.docker("run", "--rm", *args)


def test_pid_container_sees_the_others_processes(engine) -> None:
    donor, _ = _donor(engine)
    r = _run(engine, "--network", "none", "--pid", f"container:{donor}", "busybox", "ps")
    assert r.returncode == 0, r.stderr
    assert "sleep 300" in r.stdout, r.stdout
    inside = engine.docker("exec", donor, "readlink", "/proc/self/ns/pid").stdout
    r = _run(engine, "--network", "none", "--pid", f"container:{donor}", "busybox",
             "readlink", "/proc/self/ns/pid")  # fmt: skip
    assert r.stdout == inside and inside.startswith("pid:["), (r.stdout, inside)


def test_ipc_container_shares_a_shareable_donors_ipc_namespace(engine) -> None:
    donor, donor_id = _donor(engine, "--ipc", "shareable")
    inside = engine.docker("exec", donor, "readlink", "/proc/self/ns/ipc").stdout
    r = _run(engine, "--network", "none", "--ipc", f"container:{donor}", "busybox",
             "readlink", "/proc/self/ns/ipc")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout == inside and inside.startswith("ipc:["), (r.stdout, inside)
    private = _run(engine, "--network", "none", "busybox", "readlink", "/proc/self/ns/ipc")
    assert private.stdout != inside
    # POSIX shared memory lives in /dev/shm: the donor's tmpfs, seen and written both ways
    r = engine.docker("exec", donor, "sh", "-c", "echo from-donor > /dev/shm/seg")
    assert r.returncode == 0, r.stderr
    r = _run(engine, "--network", "none", "--ipc", f"container:{donor}", "busybox", "sh", "-c",
             "cat /dev/shm/seg; echo from-sidecar > /dev/shm/back")  # fmt: skip
    assert r.stdout == "from-donor\n", (r.stdout, r.stderr)
    assert engine.docker("exec", donor, "cat", "/dev/shm/back").stdout == "from-sidecar\n"
    r = _run(engine, "--network", "none", "busybox", "ls", "/dev/shm")
    assert r.stdout == "", r.stdout  # a private container has its own
    if isinstance(engine, Daemon):  # the host's tmpfs goes when the donor stops
        assert any(m.endswith(f"{donor_id}/shm") for m in engine.mounts_under_root())
        assert engine.docker("stop", "-t", "0", donor).returncode == 0
        assert not any(donor_id in m for m in engine.mounts_under_root())


def test_refusals_in_dockerds_words(engine) -> None:
    donor, donor_id = _donor(engine)  # IpcMode private: not shareable
    r = _run(engine, "--network", "none", "--ipc", f"container:{donor}", "busybox", "true")
    assert r.returncode == 125
    assert (f"can't join IPC of container {donor_id}: non-shareable IPC (hint: use "
            "IpcMode:shareable for the donor container)") in r.stderr, r.stderr  # fmt: skip
    stopped = f"ns-{uuid.uuid4().hex[:8]}"
    r = engine.docker("create", "--network", "none", "--name", stopped, "busybox", "true")
    assert r.returncode == 0, r.stderr
    engine.made.append(stopped)
    sid = r.stdout.strip()
    r = _run(engine, "--network", "none", "--pid", f"container:{stopped}", "busybox", "true")
    assert r.returncode == 125 and f"container {sid} is not running" in r.stderr, r.stderr
    r = _run(engine, "--network", "none", "--ipc", f"container:{stopped}", "busybox", "true")
    assert r.returncode == 125, r.stderr
    assert f"can't join IPC of container {sid}: container {sid} is not running" in r.stderr
    r = _run(engine, "--network", f"container:{stopped}", "busybox", "true")
    assert f"cannot join network of a non running container: {sid}" in r.stderr, r.stderr
    for flag in ("--pid", "--ipc"):  # refused at create (a 400: the CLI does not pull)
        r = engine.docker("create", "--network", "none", flag, "container:nosuch-ns", "busybox")
        assert r.returncode != 0 and "No such container: nosuch-ns" in r.stderr, r.stderr
        assert "Unable to find image" not in r.stderr, r.stderr
    # the network's other container is looked for only at start
    r = engine.docker("create", "--network", "container:nosuch-ns", "busybox")
    assert r.returncode == 0, r.stderr
    engine.made.append(r.stdout.strip())
    r = engine.docker("start", r.stdout.strip())
    assert r.returncode != 0 and "No such container: nosuch-ns" in r.stderr, r.stderr


def test_hostnames_from_the_network_and_uts_modes(engine) -> None:
    donor, _ = _donor(engine, "--hostname", "donorhost")
    r = _run(engine, "--network", f"container:{donor}", "busybox", "sh", "-c",
             "hostname; cat /etc/hostname")  # fmt: skip
    assert r.stdout.split() == ["donorhost", "donorhost"], (r.stdout, r.stderr)
    host = socket.gethostname()
    r = _run(engine, "--network", "host", "busybox", "sh", "-c", "hostname; cat /etc/hostname")
    assert r.stdout.split() == [host, host], (r.stdout, r.stderr)
    name = f"ns-{uuid.uuid4().hex[:8]}"
    assert engine.docker("create", "--network", "host", "--name", name, "busybox").returncode == 0
    engine.made.append(name)
    assert engine.docker("inspect", "-f", "{{.Config.Hostname}}", name).stdout.strip() == host
    r = _run(engine, "--network", "none", "--uts", "host", "busybox", "hostname")
    assert r.stdout.strip() == host, (r.stdout, r.stderr)


def test_pid_host_sees_the_hosts_init(engine) -> None:
    with open("/proc/1/comm") as f:
        init = f.read().strip()
    r = _run(engine, "--network", "none", "--pid", "host", "busybox", "cat", "/proc/1/comm")
    assert (r.returncode, r.stdout.strip()) == (0, init), r.stderr
