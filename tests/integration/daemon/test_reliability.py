"""Reliability: containers created, started, stopped and removed by 8 concurrent
clients while dockyardd is SIGKILLed and restarted twice. Afterwards every
container a client was told exists does, `ps -a` agrees with the monitors, and no
mount, cgroup or process is orphaned. DOCKYARD_RELIABILITY_N sets the count
(default 200, as the issue asks)."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import docker
import pytest
import requests

from tests.conftest import Daemon, start_daemon, stop_daemon
from tests.integration.daemon.conftest import live_monitors

pytestmark = pytest.mark.integration

N = int(os.environ.get("DOCKYARD_RELIABILITY_N", "200"))
CLIENTS = 8
_TRANSIENT = (requests.exceptions.ConnectionError, docker.errors.APIError, OSError)


class Ledger:
    """What the clients were told: created ids, ids whose removal was confirmed, and
    ids whose start/stop/remove call died with the daemon (outcome unknown)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.created: set[str] = set()
        self.removed: set[str] = set()
        self.uncertain: set[str] = set()  # the daemon died during a call: either outcome is right
        self.errors = 0


def _client(host: str, count: int, ledger: Ledger, stop: threading.Event) -> None:
    cli = docker.APIClient(base_url=host, timeout=60)
    done = 0
    while done < count and not stop.is_set():
        try:
            cid = cli.create_container("busybox", ["sleep", "300"])["Id"]
        except _TRANSIENT:
            ledger.errors += 1
            time.sleep(0.2)
            continue
        with ledger.lock:
            ledger.created.add(cid)
        done += 1
        try:
            cli.start(cid)
            if random.random() < 0.5:
                cli.stop(cid, timeout=0)
            cli.remove_container(cid, force=True)
        except _TRANSIENT:
            ledger.errors += 1
            with ledger.lock:
                ledger.uncertain.add(cid)
            continue
        with ledger.lock:
            ledger.removed.add(cid)


def _rootfs_mounts(root: Path) -> set[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    prefix = str(root / "exec" / "containers") + "/"
    return {
        p[len(prefix) :].split("/")[0]
        for p in points
        if p.startswith(prefix) and p.endswith("/rootfs")
    }


def test_clients_while_daemon_is_killed(private_root: Path) -> None:
    root = private_root
    d = start_daemon(root)
    try:
        _scenario(root, d)
    finally:
        stop_daemon(d)  # the one started last, whatever failed


def _scenario(root: Path, d: Daemon) -> None:
    ledger = Ledger()
    stop = threading.Event()
    per_client = [N // CLIENTS + (1 if i < N % CLIENTS else 0) for i in range(CLIENTS)]
    threads = [threading.Thread(target=_client, args=(d.host, n, ledger, stop)) for n in per_client]
    for t in threads:
        t.start()
    try:
        for delay in (2.0, 3.0):
            time.sleep(delay)
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait(10)
            new = start_daemon(root)
            d.proc, d.sock = new.proc, new.sock  # the caller stops whichever runs last
        for t in threads:
            t.join(timeout=600)
        assert not any(t.is_alive() for t in threads), "clients hung"
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert len(ledger.created) >= N

    cli = docker.APIClient(base_url=d.host, timeout=60)
    listed = {c["Id"]: c for c in cli.containers(all=True)}
    told_exist = ledger.created - ledger.removed - ledger.uncertain
    missing = told_exist - set(listed)
    assert not missing, f"{len(missing)} containers the clients were told exist are gone"
    # A monitor the daemon died before starting gives up after 30 s (monitor/shim.py).
    deadline = time.monotonic() + 40
    while True:
        listed = {c["Id"]: c for c in cli.containers(all=True)}
        running = {cid for cid, c in listed.items() if c["State"] == "running"}
        if live_monitors(root) == running or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert live_monitors(root) == running, "ps -a and the monitors disagree"
    assert _rootfs_mounts(root) <= running, "a stopped container still has its rootfs mounted"
    for cid in listed:
        cli.remove_container(cid, force=True)
    assert cli.containers(all=True) == []
    time.sleep(0.5)
    assert live_monitors(root) == set()
    assert _rootfs_mounts(root) == set()
    cgroups = (
        [
            p
            for p in Path("/sys/fs/cgroup/memory/dockyard").glob("*")
            if p.is_dir() and p.name in ledger.created
        ]
        if Path("/sys/fs/cgroup/memory/dockyard").exists()
        else []
    )
    assert cgroups == [], f"orphaned cgroups: {cgroups[:3]}"
