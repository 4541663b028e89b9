"""Warm sandboxes for the default bridge (daemon/services/netpool.py): containers get
them, addresses stay unique, and a stopping or crashed daemon leaves none behind."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import start_daemon, stop_daemon
from tests.integration.daemon.conftest import private_root  # noqa: F401  (fixture)
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def _pooled(root: Path) -> list[Path]:
    return sorted((root / "exec" / "netns").glob("pool-*"))


def _mounted(root: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [
            line.split()[4] for line in f if "/netns/pool-" in line.split()[4] and str(root) in line
        ]


def test_containers_take_warm_sandboxes_and_addresses_stay_unique(private_root: Path) -> None:  # noqa: F811
    root = private_root
    d = start_daemon(root)
    try:
        d.docker("run", "--rm", "busybox", "true", check=True)  # the pool fills after this
        wait_until(lambda: len(_pooled(root)) == 2, "two warm sandboxes")
        warm = {p.name for p in _pooled(root)}
        names = [f"warm{i}-{time.monotonic_ns() % 10**6}" for i in range(3)]
        for n in names:
            d.docker("run", "-d", "--name", n, "busybox", "sleep", "60", check=True)
        ips = [
            json.loads(d.docker("inspect", n, check=True).stdout)[0]["NetworkSettings"]["IPAddress"]
            for n in names
        ]
        assert len(set(ips)) == 3 and all(ips)
        # they were warm ones (made before the containers), and the pool refilled
        assert warm - {p.name for p in _pooled(root)}
        wait_until(lambda: len(_pooled(root)) == 2, "two warm sandboxes")
        # the container sees its address on eth0 and its route, and reaches the others
        r = d.docker("exec", names[0], "sh", "-c", "ip -4 addr show eth0; ip route", check=True)
        assert ips[0] in r.stdout and "default via" in r.stdout
        for ip in ips[1:]:
            d.docker("exec", names[0], "ping", "-c", "1", "-W", "2", ip, check=True)
        # a published port works through a warm sandbox too
        r = d.docker(
            "run", "-d", "-p", "127.0.0.1::80", "busybox", "httpd", "-f", "-p", "80", check=True
        )
        cid = r.stdout.strip()
        port = d.docker("port", cid, "80/tcp", check=True).stdout.strip().rsplit(":", 1)[1]
        d.docker("exec", cid, "sh", "-c", "echo warm > /index.html", check=True)
        got = subprocess.run(
            ["wget", "-q", "-O", "-", f"http://127.0.0.1:{port}/index.html"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        assert got.stdout == "warm\n", got.stderr
        d.docker("rm", "-f", cid, *names, check=True)
    finally:
        stop_daemon(d)
    # a daemon that stops drops its warm sandboxes
    assert _pooled(root) == [] and _mounted(root) == []


def test_a_crashed_daemons_warm_sandboxes_are_removed_on_start(private_root: Path) -> None:  # noqa: F811
    root = private_root
    d = start_daemon(root)
    d.docker("run", "--rm", "busybox", "true", check=True)
    wait_until(lambda: len(_pooled(root)) == 2, "two warm sandboxes")
    left = {p.name for p in _pooled(root)}
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)
    d = start_daemon(root)
    try:
        assert not left & {p.name for p in _pooled(root)}
        assert not [m for m in _mounted(root) if any(m.endswith(n) for n in left)]
        d.docker("run", "--rm", "busybox", "true", check=True)
    finally:
        stop_daemon(d)
