"""Shared fixtures: a real dockyardd on a temp data root and socket, per test session.

Everything it starts lives under one temp dir and is torn down at the end,
even on failure: containers removed, daemon stopped by pid, monitors killed,
mounts under the temp dir detached.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BUSYBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Daemon:
    root: Path
    sock: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DOCKER_HOST"] = self.host
        env["DOCKYARD_HOST"] = self.host
        env["DOCKER_CONFIG"] = str(self.root / "docker-config")
        env["DOCKER_CLI_HINTS"] = "false"
        env.pop("DOCKER_CONTEXT", None)
        return env

    def docker(
        self, *args: str, input: bytes | None = None, timeout: float = 60, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        return _run(["docker", *args], self.env(), input, timeout, check)

    def dockyard(
        self, *args: str, input: bytes | None = None, timeout: float = 60, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        return _run([str(BIN / "dockyard"), *args], self.env(), input, timeout, check)

    def mounts_under_root(self) -> list[str]:
        with open("/proc/self/mountinfo") as f:
            return [line.split()[4] for line in f if str(self.root) in line.split()[4]]


def _run(
    cmd: list[str], env: dict[str, str], input: bytes | None, timeout: float, check: bool
) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(cmd, env=env, input=input, capture_output=True, timeout=timeout)
    out = subprocess.CompletedProcess(
        p.args, p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    )
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} exited {p.returncode}: {out.stderr}")
    return out


def busybox_tar(dest: Path) -> Path:
    subprocess.run(
        [str(REPO / "scripts" / "make-busybox-rootfs.sh"), "--tar", str(dest)], check=True
    )
    return dest


def network_args(root: Path) -> list[str]:
    """A unique default bridge (dy + 4 hex) and subnets that no host route covers, so
    parallel test daemons never share a bridge, addresses or iptables chains."""
    import ipaddress
    import random

    saved = root / ".netargs"
    if saved.exists():  # a restart on the same root keeps its bridge and subnets
        return json.loads(saved.read_text())
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    used = [ipaddress.ip_network(w.split()[0]) for w in routes.splitlines() if "/" in w.split()[0]]
    rng = random.SystemRandom()
    while True:
        # a /20 for the default bridge: room for thousands of containers (density tests)
        net = ipaddress.ip_network(f"10.{rng.randrange(100, 250)}.{16 * rng.randrange(16)}.0/20")
        pool = ipaddress.ip_network(f"10.{rng.randrange(100, 250)}.0.0/16")
        if not any(net.overlaps(u) or pool.overlaps(u) for u in used) and not net.overlaps(pool):
            break
    bridge = f"dy{rng.randrange(0x10000):04x}"
    (root / ".bridge").write_text(bridge)
    args = ["--bridge", bridge, "--bip", f"{net[1]}/20", "--default-address-pool",
            f"base={pool},size=24", "--dns-forward", "false"]  # fmt: skip
    saved.write_text(json.dumps(args))
    return args


def start_daemon(
    root: Path, extra: list[str] | None = None, preexec_fn: Callable[[], None] | None = None
) -> Daemon:
    """`preexec_fn` runs in the daemon's process before exec (e.g. to start it with signals
    ignored, as `nohup ... &` does)."""
    sock = str(root / "run" / "dockyard.sock")
    log_path = root / "dockyardd.log"
    runtime = os.environ.get("DOCKYARD_TEST_RUNTIME", "dockyard-runtime")
    cmd = [
        str(BIN / "dockyardd"),
        "--data-root",
        str(root / "data"),
        "--exec-root",
        str(root / "exec"),
        "-H",
        f"unix://{sock}",
        "--pidfile",
        str(root / "dockyardd.pid"),
        "--runtime",
        runtime,
        *(extra or []),
    ]
    if "--bridge" not in cmd:
        cmd += network_args(root)
    if os.path.exists(sock):  # left by a killed daemon: wait for the new one's
        os.unlink(sock)
    logf = open(log_path, "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=preexec_fn
    )
    logf.close()
    # A deadline to catch a daemon that hangs, not a timing: one that exits fails at once.
    # 20 s was too short on a loaded machine for a restart with containers to restore
    # (issue 18: test_stack, test_warm_sandboxes and test_daemon_restart failed so, with
    # the daemon listening moments later).
    deadline = time.monotonic() + 90
    while not _accepts(sock):  # (the path exists a moment before listen(2))
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"dockyardd did not start:\n{log_path.read_text()}")
        time.sleep(0.05)
    return Daemon(root, sock, proc, log_path)


def _accepts(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError:
        return False
    finally:
        s.close()
    return True


def stop_daemon(d: Daemon) -> None:
    if d.proc.poll() is None:
        d.proc.send_signal(signal.SIGTERM)
        try:
            d.proc.wait(15)
        except subprocess.TimeoutExpired:
            d.proc.kill()
            d.proc.wait()


def _pids_naming(text: str) -> list[int]:
    me = os.getpid()
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    out.append(int(entry))
        except OSError:
            pass
    return out


def kill_leftovers(root: Path) -> None:
    """Monitors and container processes started under `root`; then its mounts."""
    exec_root = root / "exec"
    for pidfile in list(exec_root.glob("containers/*/monitor.pid")) + list(
        exec_root.glob("containers/*/init.pid")
    ):
        try:
            os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)
        except (ValueError, ProcessLookupError, FileNotFoundError):
            pass
    # Processes forked from the monitor zygote (monitors, and container inits forked by
    # the in-process runtime) keep the zygote's command line, which names `root`; a
    # pid file may be gone with its bundle, the command line is not.
    for pid in _pids_naming(str(root) + "/"):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.1)
    with open("/proc/self/mountinfo") as f:
        targets = [line.split()[4] for line in f if str(root) in line.split()[4]]
    for t in sorted(targets, key=len, reverse=True):
        subprocess.run(["umount", "-l", t], capture_output=True)
    netns_dir = exec_root / "netns"
    for ns in netns_dir.glob("*") if netns_dir.is_dir() else []:
        subprocess.run(["umount", "-l", str(ns)], capture_output=True)
    bridge_file = root / ".bridge"
    if bridge_file.exists():  # a daemon that died without cleaning up: its bridge, chains
        bridge = bridge_file.read_text().strip()
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
        for table, chain, jump in (
            ("nat", "PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL"]),
            ("nat", "OUTPUT", ["-m", "addrtype", "--dst-type", "LOCAL"]),
            ("nat", "POSTROUTING", []),
            ("filter", "FORWARD", []),
        ):
            target = (
                f"DY-{bridge}"
                if table == "nat" and jump
                else f"DY-{bridge}-" + ("POST" if table == "nat" else "FWD")
            )
            subprocess.run(["iptables", "-w", "-t", table, "-D", chain, *jump, "-j", target],
                           capture_output=True)  # fmt: skip
            subprocess.run(["iptables", "-w", "-t", table, "-F", target], capture_output=True)
            subprocess.run(["iptables", "-w", "-t", table, "-X", target], capture_output=True)


@pytest.fixture(scope="session")
def session_tmp() -> Path:
    d = Path(tempfile.mkdtemp(prefix="dytest-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def busybox_rootfs_tar(session_tmp: Path) -> Path:
    return busybox_tar(session_tmp / "busybox.tar")


@contextlib.contextmanager
def daemon_with_busybox(
    root: Path,
    busybox_rootfs_tar: Path,
    extra: list[str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[Daemon]:
    """A daemon on `root` with busybox:latest imported; on exit its containers removed,
    the daemon stopped and whatever it left killed and unmounted."""
    d = start_daemon(root, extra, preexec_fn)
    try:
        r = d.docker(
            "import",
            "-c",
            'CMD ["sh"]',
            "-c",
            f"ENV PATH={BUSYBOX_PATH}",
            str(busybox_rootfs_tar),
            "busybox:latest",
        )
        assert r.returncode == 0, r.stderr + d.log_path.read_text()
        yield d
    finally:
        try:
            ids = d.docker("ps", "-aq", timeout=20).stdout.split()
            if ids:
                d.docker("rm", "-f", *ids, timeout=60)
        except Exception:
            pass
        stop_daemon(d)
        kill_leftovers(root)


@pytest.fixture(scope="session")
def daemon(session_tmp: Path, busybox_rootfs_tar: Path) -> Iterator[Daemon]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    root = session_tmp / "d"
    root.mkdir()
    with daemon_with_busybox(root, busybox_rootfs_tar) as d:
        yield d


def pytest_report_header(config: pytest.Config) -> str:
    return f"dockyard test runtime: {os.environ.get('DOCKYARD_TEST_RUNTIME', 'dockyard-runtime')}"


def inspect(d: Daemon, ref: str) -> dict:
    r = d.docker("inspect", ref, check=True)
    return json.loads(r.stdout)[0]
