"""Swarm mode figures on 3 test hosts (a daemon per network namespace, veths on a bridge),
Dockyard's dockyardd and Docker's dockerd side by side in one run, busybox tasks:
  converge   `service create --replicas R` until R tasks run
  scale      to 2R
  update     a start-first rolling update of the 2R replicas, parallelism P
  node loss  a worker's engine SIGKILLed and its link cut, until 2R run again elsewhere
             (and the time until the manager marks the node down)
  return     its link back up and its engine started again (until it answers), then until
             none of its stale tasks runs there
    bench/cluster.sh [R] [P]      (defaults 30, 2; needs root; dockerd optional)
Only the hosts' own addresses and unix sockets are used; images are not resolved on a
registry (--no-resolve-image).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import BUSYBOX_PATH, busybox_tar, kill_leftovers, stop_daemon  # noqa: E402
from tests.integration.swarm.hosts import Cluster, Host, enter_netns  # noqa: E402


def docker(sock: str, *args: str, input: bytes | None = None) -> str:
    env = dict(os.environ, DOCKER_HOST=f"unix://{sock}", DOCKER_CLI_HINTS="false")
    p = subprocess.run(["docker", *args], env=env, input=input, capture_output=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {p.stderr.decode()}")
    return p.stdout.decode()


def running(sock: str, service: str, exclude_node: str = "") -> int:
    import docker as dockerpy

    c = dockerpy.APIClient(base_url=f"unix://{sock}", version="1.41")
    try:
        ts = c.tasks(filters={"service": service, "desired-state": "running"})
    finally:
        c.close()
    return sum(1 for t in ts if t["Status"]["State"] == "running" and t["NodeID"] != exclude_node)


def updated(sock: str, service: str, n: int) -> bool:
    import docker as dockerpy

    c = dockerpy.APIClient(base_url=f"unix://{sock}", version="1.41")
    try:
        ts = c.tasks(filters={"service": service, "desired-state": "running"})
    finally:
        c.close()
    ok = [t for t in ts if t["Status"]["State"] == "running"
          and "V=2" in (t["Spec"]["ContainerSpec"].get("Env") or [])]  # fmt: skip
    return len(ok) == n


def until(cond, timeout: float = 300) -> float:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            return float("nan")
        time.sleep(0.1)
    return time.monotonic() - t0


BRIDGE = "dyswdk0"  # inside each host's namespace, gone with it


class DockerdHost:
    """dockerd in a test host's namespace: own data root, exec root, socket, pid file."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.root = host.root / "dockerd"
        self.sock = str(self.root / "docker.sock")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Its tasks get a bridge as Dockyard's do (swarm tasks without networks go on the
        default bridge): one of its own, made inside the host's namespace (its address
        and dockerd's rules exist there only)."""
        self.root.mkdir(parents=True, exist_ok=True)
        ns = ["ip", "-n", self.host.name]
        if subprocess.run([*ns, "link", "show", BRIDGE], capture_output=True).returncode:
            for args in (["link", "add", BRIDGE, "type", "bridge"],
                         ["addr", "add", "192.168.250.1/24", "dev", BRIDGE],
                         ["link", "set", BRIDGE, "up"]):  # fmt: skip
                subprocess.run([*ns, *args], check=True, capture_output=True)
        log = open(self.root / "dockerd.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            ["dockerd", "--data-root", str(self.root / "data"),
             "--exec-root", str(self.root / "exec"), "--pidfile", str(self.root / "pid"),
             "-H", f"unix://{self.sock}", "--bridge", BRIDGE],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=lambda: enter_netns(self.host.name),
        )  # fmt: skip
        log.close()
        until(lambda: os.path.exists(self.sock) and _ok(self.sock), 60)
        if not _ok(self.sock):
            raise RuntimeError((self.root / "dockerd.log").read_text()[-2000:])

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _ok(sock: str) -> bool:
    try:
        docker(sock, "version", "--format", "{{.Server.Version}}")
        return True
    except (RuntimeError, subprocess.TimeoutExpired):
        return False


def stale_gone(sock: str, service: str) -> bool:
    """No container of the service runs on that engine (False while it does not answer)."""
    try:
        out = docker(sock, "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}")
    except (RuntimeError, subprocess.TimeoutExpired):
        return False
    return not out.split()


def scenario(socks: list[str], addrs: list[str], kill, link_down, revive,  # type: ignore[no-untyped-def]
             R: int, P: int) -> dict[str, float]:  # fmt: skip
    m = socks[0]
    docker(m, "swarm", "init", "--advertise-addr", addrs[0])
    token = docker(m, "swarm", "join-token", "-q", "worker").strip()
    for s in socks[1:]:
        docker(s, "swarm", "join", "--token", token, f"{addrs[0]}:2377")
    out: dict[str, float] = {}
    t0 = time.monotonic()
    docker(
        m,
        "service",
        "create",
        "--detach",
        "--no-resolve-image",
        "--name",
        "b",
        "--replicas",
        str(R),
        "--stop-grace-period",
        "1s",
        "busybox",
        "sleep",
        "1000000",
    )
    until(lambda: running(m, "b") == R)
    out["converge"] = time.monotonic() - t0
    t0 = time.monotonic()
    docker(m, "service", "scale", "--detach", f"b={2 * R}")
    until(lambda: running(m, "b") == 2 * R)
    out["scale"] = time.monotonic() - t0
    t0 = time.monotonic()
    docker(m, "service", "update", "--detach", "--no-resolve-image", "--update-order",
           "start-first", "--update-parallelism", str(P), "--update-delay", "0s",
           "--env-add", "V=2", "b")  # fmt: skip
    until(lambda: updated(m, "b", 2 * R), 600)
    out["update"] = time.monotonic() - t0
    victim = docker(socks[2], "info", "--format", "{{.Swarm.NodeID}}").strip()
    t0 = time.monotonic()
    kill()
    link_down()
    until(lambda: docker(m, "node", "inspect", victim, "--format", "{{.Status.State}}").strip()
          == "down")  # fmt: skip
    out["node down"] = time.monotonic() - t0
    until(lambda: running(m, "b", exclude_node=victim) == 2 * R, 600)
    out["replaced"] = time.monotonic() - t0
    t0 = time.monotonic()
    revive()  # returns once the engine answers on its socket: the node is back
    out["engine up"] = time.monotonic() - t0
    t0 = time.monotonic()
    until(lambda: stale_gone(socks[2], "b"), 300)
    out["stale gone"] = time.monotonic() - t0
    return out


def dockyard(base: Path, tar: Path, R: int, P: int) -> dict[str, float]:
    c = Cluster(base)
    try:
        hosts = c.up(3, tar)
        socks = [h.daemon.sock for h in hosts]  # type: ignore[union-attr]
        return scenario(socks, [h.addr for h in hosts], hosts[2].kill,
                        lambda: hosts[2].link(False),
                        lambda: (hosts[2].link(True), hosts[2].start()), R, P)  # fmt: skip
    finally:
        c.down()


def dockerd_in(hosts: list[Host], tar: Path, peers: list[DockerdHost]) -> None:
    """Each host's dockyardd replaced by a dockerd (appended to `peers` as it starts, so
    the caller stops every one that did), busybox imported."""
    for h in hosts:
        assert h.daemon is not None
        stop_daemon(h.daemon)
        kill_leftovers(h.root)
        h.daemon = None
        p = DockerdHost(h)
        peers.append(p)
        p.start()
        docker(p.sock, "import", "-c", 'CMD ["sh"]', "-c", f"ENV PATH={BUSYBOX_PATH}",
               str(tar), "busybox:latest")  # fmt: skip


def dockerd(base: Path, tar: Path, R: int, P: int) -> dict[str, float]:
    """The same namespaces and links, with dockerd in them instead of dockyardd."""
    c = Cluster(base)
    peers: list[DockerdHost] = []
    try:
        hosts = c.up(3, tar)
        dockerd_in(hosts, tar, peers)
        return scenario([p.sock for p in peers], [h.addr for h in hosts], peers[2].kill,
                        lambda: hosts[2].link(False),
                        lambda: (hosts[2].link(True), peers[2].start()), R, P)  # fmt: skip
    finally:
        for p in peers:
            p.stop()
        c.down()  # kills what is left under each host's root, unmounts, removes the links


def main() -> int:
    R = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    P = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    base = Path(tempfile.mkdtemp(prefix="dysw-bench-"))
    results: dict[str, dict[str, float]] = {}
    try:
        tar = busybox_tar(base / "busybox.tar")
        (base / "dy").mkdir()
        results["dockyard"] = dockyard(base / "dy", tar, R, P)
        if shutil.which("dockerd"):
            (base / "dk").mkdir()
            results["dockerd"] = dockerd(base / "dk", tar, R, P)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"swarm mode, 3 hosts in network namespaces, busybox, R={R}, update parallelism {P}")
    print(f"{'':12}" + "".join(f"{k:>12}" for k in results))
    labels = {"converge": f"create {R}", "scale": f"scale {2 * R}", "update": f"update {2 * R}",
              "node down": "node down", "replaced": "replaced",
              "engine up": "engine up", "stale gone": "stale gone"}  # fmt: skip
    for k, label in labels.items():
        print(f"{label:12}" + "".join(f"{r.get(k, float('nan')):11.1f}s" for r in results.values()))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
