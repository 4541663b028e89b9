"""Monitor hosts (monitor/host.py): containers share host processes up to the group
size, a daemon restart keeps filling them, and a host that dies takes its
containers down cleanly (killed, unmounted, marked exited) instead of leaving
them running unwatched."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.conftest import Daemon, start_daemon, stop_daemon
from tests.integration.daemon.conftest import private_root  # noqa: F401  (fixture)
from tests.waiting import wait_until

pytestmark = pytest.mark.integration
GROUP = ["--monitor-group-size", "2"]


def _host_of(root: Path, cid: str) -> int:
    return int((root / "exec" / "containers" / cid / "monitor.pid").read_text())


def _state(d: Daemon, cid: str) -> dict:
    return json.loads(d.docker("inspect", cid, check=True).stdout)[0]["State"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _rootfs_mounted(root: Path, cid: str) -> bool:
    target = str(root / "exec" / "containers" / cid / "rootfs")
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == target for line in f)


def test_hosts_are_shared_and_a_dead_host_takes_its_containers_down(private_root: Path) -> None:  # noqa: F811
    root = private_root
    d = start_daemon(root, GROUP)
    try:
        ids = [
            d.docker(
                "run", "-d", "--network", "none", "busybox", "sleep", "300", check=True
            ).stdout.strip()
            for _ in range(5)
        ]
        hosts = {cid: _host_of(root, cid) for cid in ids}
        by_host: dict[int, list[str]] = {}
        for cid, pid in hosts.items():
            by_host.setdefault(pid, []).append(cid)
        assert sorted(len(v) for v in by_host.values()) == [1, 2, 2], by_host
        for pid in by_host:
            assert Path(f"/proc/{pid}/comm").read_text().strip() == "dy-monitor"
        for cid in ids:  # each container is watched: exec, logs
            r = d.docker("exec", cid, "echo", "hi")
            assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr

        # a daemon restart: the next container goes to the host with room
        stop_daemon(d)
        d = start_daemon(root, GROUP)
        roomy = next(pid for pid, v in by_host.items() if len(v) == 1)
        new = d.docker(
            "run", "-d", "--network", "none", "busybox", "sleep", "300", check=True
        ).stdout.strip()
        assert _host_of(root, new) == roomy
        by_host[roomy].append(new)

        # a host killed: its two containers are killed, unmounted and marked exited
        victim, doomed = next((pid, v) for pid, v in by_host.items() if pid != roomy)
        inits = {cid: _state(d, cid)["Pid"] for cid in doomed}
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: all(not _state(d, cid)["Running"] for cid in doomed), "doomed exited")
        for cid in doomed:
            st = _state(d, cid)
            assert st["Status"] == "exited" and st["ExitCode"] == 255, st
            wait_until(lambda cid=cid: not _alive(inits[cid]), "the container's init to end", 5)
            assert not _rootfs_mounted(root, cid)
        for cid in set(ids + [new]) - set(doomed):  # the others go on
            assert _state(d, cid)["Running"] is True
        r = d.docker("run", "--rm", "--network", "none", "busybox", "echo", "after")
        assert (r.returncode, r.stdout) == (0, "after\n"), r.stderr
        d.docker("start", doomed[0], check=True)  # and a killed one starts again
        assert _state(d, doomed[0])["Running"] is True
        d.docker("rm", "-f", *ids, new, check=True)
    finally:
        stop_daemon(d)


def test_exec_d_hosts_without_the_zygote(private_root: Path) -> None:  # noqa: F811
    """`--no-monitor-zygote`: hosts are fresh `dockyard-monitor SOCKET SIZE` processes."""
    root = private_root
    d = start_daemon(root, ["--no-monitor-zygote"])
    try:
        r = d.docker("run", "--rm", "--network", "none", "busybox", "echo", "exec'd")
        assert (r.returncode, r.stdout) == (0, "exec'd\n"), r.stderr
        cid = d.docker(
            "run", "-d", "--network", "none", "busybox", "sleep", "60", check=True
        ).stdout.strip()
        cmdline = Path(f"/proc/{_host_of(root, cid)}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1].endswith(b"dockyard-monitor") and cmdline[3] == b"32", cmdline
        r = d.docker("exec", cid, "echo", "in")
        assert (r.returncode, r.stdout) == (0, "in\n"), r.stderr
        d.docker("rm", "-f", cid, check=True)
    finally:
        stop_daemon(d)


def test_a_host_that_exited_idle_is_replaced(
    private_root: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The daemon's current host exits after its idle time; the next container gets a
    new host (the old socket refuses or is gone), with no error for the user."""
    root = private_root
    monkeypatch.setenv("DOCKYARD_MONITOR_IDLE_EXIT", "1")
    d = start_daemon(root)
    try:
        cid = d.docker(
            "run", "-d", "--network", "none", "busybox", "true", check=True
        ).stdout.strip()
        first = _host_of(root, cid)
        d.docker("wait", cid, check=True)
        wait_until(lambda: not _alive(first), "the idle host to exit", 10)
        assert not list((root / "exec" / "m").glob("*.sock"))  # it took its socket with it
        r = d.docker("run", "--rm", "--network", "none", "busybox", "echo", "again")
        assert (r.returncode, r.stdout) == (0, "again\n"), r.stderr
        d.docker("rm", "-f", cid, check=True)
    finally:
        stop_daemon(d)


_FAKE_HOST = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    with open(sys.argv[2], "ab") as f:
        f.write(c.recv(4096))
    c.close()
"""


def _ignoring_sighup() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def test_a_host_started_with_signals_ignored_gets_no_containers(
    private_root: Path,  # noqa: F811
) -> None:
    """A host on disk that ignores SIGHUP (as an older daemon under `nohup` left one)
    would pass that on to its containers: the daemon gives it no container."""
    import subprocess
    import sys

    root = private_root
    sockets = root / "exec" / "m"
    sockets.mkdir(parents=True, exist_ok=True)
    asked = root / "asked"
    fake = subprocess.Popen(
        [sys.executable, "-c", _FAKE_HOST, str(sockets / "00000000.sock"), str(asked)],
        stdout=subprocess.PIPE, preexec_fn=_ignoring_sighup,
    )  # fmt: skip
    try:
        assert fake.stdout is not None and fake.stdout.readline() == b"ready\n"
        d = start_daemon(root)
        try:
            r = d.docker("run", "--rm", "--network", "none", "busybox", "grep", "SigIgn",
                         "/proc/1/status")  # fmt: skip
            assert (r.returncode, r.stdout.split()) == (0, ["SigIgn:", "0" * 16]), r.stderr
            assert not asked.exists() or asked.read_bytes() == b"", asked.read_bytes()
        finally:
            stop_daemon(d)
    finally:
        fake.kill()
        fake.wait()
