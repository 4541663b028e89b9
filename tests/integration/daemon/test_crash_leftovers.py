"""Crash leftovers (issue 11.9): dockyardd SIGKILLed at random points while 20
containers start in parallel, 5 rounds. After each restart nothing is left that
no container owns: no temp file, snapshot, network namespace, veth on the
bridge, IPAM address, cgroup, monitor or container process, and no prune is
needed for that."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import docker
import pytest
import requests

from tests.conftest import Daemon, start_daemon, stop_daemon
from tests.integration.daemon.conftest import live_monitors

pytestmark = pytest.mark.integration

PARALLEL = 20
ROUNDS = 5
_TRANSIENT = (requests.exceptions.ConnectionError, docker.errors.APIError, OSError)


def _starter(host: str, go: threading.Event, restart: bool) -> None:
    cli = docker.APIClient(base_url=host, timeout=30, version="1.41")  # no version call
    go.wait()
    # Some restart with the daemon: their starts take warm sandboxes while
    # restore runs, and the pool refills as leftovers are reclaimed.
    policy = {"Name": "always"} if restart else None
    try:
        cid = cli.create_container(
            "busybox", ["sleep", "300"], host_config=cli.create_host_config(restart_policy=policy)
        )["Id"]
        cli.start(cid)
    except _TRANSIENT:
        pass  # the daemon died under it: what it left is the point
    finally:
        cli.close()


def _leftovers(root: Path, cli: docker.APIClient) -> list[str]:
    """Everything under this daemon that no container owns, described."""
    listed = {c["Id"]: c for c in cli.containers(all=True)}
    running = {cid for cid, c in listed.items() if c["State"] == "running"}
    data, exec_root = root / "data", root / "exec"
    found: list[str] = []

    for base in (data, exec_root):
        for dirpath, dirnames, filenames in os.walk(base):
            if "snapshots" in Path(dirpath).relative_to(base).parts[:1]:
                dirnames.clear()  # container and layer trees: not ours to judge
                continue
            found += [f"temp file {dirpath}/{f}" for f in filenames if f.endswith(".tmp")]

    db = sqlite3.connect(data / "snapshots" / "overlay" / "metadata.db")
    try:
        rows = db.execute("SELECT key FROM snapshots WHERE kind='active'").fetchall()
    finally:
        db.close()
    found += [f"snapshot {k}" for (k,) in rows if k not in listed]

    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    netns_dir = str(exec_root / "netns") + "/"
    owners = {cid[:32] for cid in running}
    spaces = [p[len(netns_dir) :] for p in points if p.startswith(netns_dir)]
    found += [f"netns {n}" for n in spaces if n not in owners and not n.startswith("pool-")]
    rootfs_prefix = str(exec_root / "containers") + "/"
    found += [
        f"rootfs mount {p}"
        for p in points
        if p.startswith(rootfs_prefix) and p[len(rootfs_prefix) :].split("/")[0] not in running
    ]

    state = json.loads((data / "network" / "state.json").read_text())
    endpoints = state.get("endpoints", {})
    found += [f"endpoint of {cid[:12]}" for cid in endpoints if cid not in running]
    ips = [ep["ip"] for per in endpoints.values() for ep in per.values()]
    found += [f"address {ip} twice" for ip in {i for i in ips if ips.count(i) > 1}]
    veths = {ep["veth"] for per in endpoints.values() for ep in per.values()}
    bridge = (root / ".bridge").read_text().strip()
    on_bridge = subprocess.run(
        ["ip", "-o", "link", "show", "master", bridge], capture_output=True, text=True
    ).stdout
    plugged = [line.split(":")[1].strip().split("@")[0] for line in on_bridge.splitlines()]
    pool = len([n for n in spaces if n.startswith("pool-")])
    strays = [v for v in plugged if v not in veths]
    if len(strays) > pool:  # the warm sandboxes' veths are the pool's
        found.append(f"veths on the bridge no endpoint owns: {strays} (pool {pool})")
    # every address configured in a namespace is one IPAM knows
    known = set(ips)
    for n in spaces:
        if n.startswith("pool-"):
            continue
        out = subprocess.run(
            ["nsenter", f"--net={netns_dir}{n}", "ip", "-o", "-4", "addr", "show", "eth0"],
            capture_output=True, text=True,
        ).stdout  # fmt: skip
        found += [f"address {w.split('/')[0]} in {n}" for w in out.split()
                  if "/" in w and w.split("/")[0] not in known]  # fmt: skip

    for cg in Path("/sys/fs/cgroup/memory/dockyard").glob("*"):
        if cg.is_dir() and cg.name in _ours(root, listed) and cg.name not in running:
            found.append(f"cgroup {cg.name[:12]}")

    found += [f"monitor of {cid[:12]}" for cid in live_monitors(root) - running]
    return found


def _ours(root: Path, listed: dict[str, object]) -> set[str]:
    """Ids this daemon ever used: listed, on disk, or in its snapshots."""
    ids = set(listed)
    for d in (root / "data" / "containers", root / "exec" / "containers"):
        if d.is_dir():
            ids |= {p.name for p in d.iterdir()}
    return ids | _started_ids


_started_ids: set[str] = set()


def _processes_left(root: Path, running: set[str], ids: set[str]) -> list[str]:
    """Container processes (in a cgroup named after one of our ids) of no running container."""
    out = []
    for cg in Path("/sys/fs/cgroup/pids/dockyard").glob("*"):
        if cg.name in ids and cg.name not in running:
            try:
                procs = (cg / "cgroup.procs").read_text().split()
            except OSError:
                continue
            out += [f"process {p} of {cg.name[:12]}" for p in procs]
    return out


def _wait_clean(root: Path, d: Daemon, deadline_s: float) -> list[str]:
    cli = docker.APIClient(base_url=d.host, timeout=60)
    try:
        deadline = time.monotonic() + deadline_s
        while True:
            listed = {c["Id"]: c for c in cli.containers(all=True)}
            running = {cid for cid, c in listed.items() if c["State"] == "running"}
            _started_ids.update(listed)
            left = _leftovers(root, cli) + _processes_left(root, running, _ours(root, listed))
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.5)
    finally:
        cli.close()


def test_a_daemon_killed_during_parallel_starts_leaves_nothing_behind(private_root: Path) -> None:
    root = private_root
    d = start_daemon(root)
    rng = random.Random()
    try:
        for rnd in range(ROUNDS):
            go = threading.Event()
            threads = [
                threading.Thread(target=_starter, args=(d.host, go, i % 4 == 0), daemon=True)
                for i in range(PARALLEL)
            ]
            for t in threads:
                t.start()
            go.set()
            time.sleep(rng.uniform(0.2, 2.5))
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait(10)
            for t in threads:
                t.join(timeout=60)
            d = start_daemon(root)
            # Restore is done once the socket answers; what runs is owned. A few
            # seconds for the kernel (veths go with their namespace) and monitors.
            left = _wait_clean(root, d, 20)
            assert not left, f"round {rnd}: left behind: {left[:10]} ({len(left)})"
        cli = docker.APIClient(base_url=d.host, timeout=60)
        for _ in range(3):  # warm sandboxes made while restore reclaimed work
            out = d.docker("run", "--rm", "busybox", "ip", "-4", "-o", "addr", "show", "eth0")
            assert out.returncode == 0 and " inet " in out.stdout, out.stderr
        for c in cli.containers(all=True):
            cli.remove_container(c["Id"], force=True)
        cli.close()
        assert _wait_clean(root, d, 20) == []
    finally:
        stop_daemon(d)
