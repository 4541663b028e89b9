"""Cross-host figures on 2 test hosts (a daemon per network namespace, veths on a
bridge), Dockyard's dockyardd and Docker's dockerd swarm mode side by side in one run:
  throughput  one HTTP download of MB megabytes (busybox httpd from a tmpfs on host 2,
              wget on host 1), timed inside the client from /proc/uptime
  latency     ping's average round trip over 20 pings, 0.2 s apart
each container to container over an attachable overlay (VXLAN), and over the
underlying link (the same containers with --network host: the hosts' veth addresses);
and through the routing mesh: a service's one task on host 2 publishing a port, a
client on host 1's own address (host 1's ingress sandbox, then VXLAN to the task):
  throughput  the same download
  latency     the mean time of GETS small requests, one connection each (no ICMP
              through the mesh: a GET is what it balances)
dockerd's routing mesh needs IPVS (ip_vs), which this machine's kernel lacks: its row
says why it is missing instead of a figure.
    bench/network.sh runs it after its single-host figures; alone: bench/overlay.py [MB]
Traffic stays on the hosts' bridge and their namespaces.
"""

from __future__ import annotations

import math
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cluster import DockerdHost, docker, dockerd_in, running, until  # type: ignore[import-not-found]  # noqa: E402

from tests.conftest import busybox_tar  # noqa: E402
from tests.integration.swarm.hosts import Cluster  # noqa: E402


def measure(a: str, b: str, net: str, addr_b: str, mb: int) -> dict[str, str]:
    """From a container on socket a to one on socket b, both on `net`."""
    docker(b, "run", "-d", "--name", "sink", "--network", net, "--tmpfs",
           f"/w:size={mb + 16}m", "busybox", "sh", "-c",
           f"dd if=/dev/zero of=/w/.big bs=1048576 count={mb} 2>/dev/null && mv /w/.big /w/big"
           " && httpd -f -p 8099 -h /w")  # fmt: skip
    try:
        ip = addr_b if net == "host" else docker(
            b, "inspect", "-f", f"{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}",
            "sink").strip()  # fmt: skip
        for _ in range(300):
            try:
                docker(b, "exec", "sink", "test", "-f", "/w/big")
                break
            except RuntimeError:
                time.sleep(0.1)
        out = docker(a, "run", "--rm", "--network", net, "busybox", "sh", "-c",
                     f"sleep 0.3; read s _ </proc/uptime; wget -qO /dev/null http://{ip}:8099/big"
                     " && read e _ </proc/uptime && echo ok $s $e; ping -c 20 -i 0.2 " + ip)  # fmt: skip
        words = out.split()
        i = words.index("ok")
        secs = float(words[i + 2]) - float(words[i + 1])
        rtt = re.search(r"min/avg/max = [\d.]+/([\d.]+)/", out)
        return {"throughput": f"{mb / secs:.0f} MB/s" if secs > 0 else "n/a",
                "latency": f"{float(rtt.group(1)) * 1000:.0f} us" if rtt else "n/a"}  # fmt: skip
    finally:
        docker(b, "rm", "-f", "sink")


GETS = 50
NO_IPVS = {"throughput": "n/a (no ip_vs)", "latency": "n/a (no ip_vs)"}


def mesh(a: str, addr_a: str, mb: int) -> dict[str, str]:
    """A service's one task on the worker behind published port 8098; the client on
    node a (the manager) asks a's own address."""
    docker(a, "service", "create", "--detach", "--no-resolve-image", "--name", "meshweb",
           "--constraint", "node.role==worker", "--publish", "8098:8099", "busybox", "sh",
           "-c", f"mkdir -p /w && echo ok > /w/small && dd if=/dev/zero of=/w/.big "
           f"bs=1048576 count={mb} 2>/dev/null && mv /w/.big /w/big && httpd -f -p 8099 -h /w")  # fmt: skip
    try:
        if math.isnan(until(lambda: running(a, "meshweb") == 1, timeout=120)):
            raise RuntimeError("meshweb: its task did not run within 120 s")
        url = f"http://{addr_a}:8098"
        out = docker(a, "run", "--rm", "--network", "host", "busybox", "sh", "-c",
                     f"until wget -qO /dev/null {url}/small; do sleep 0.2; done; "
                     f"read s _ </proc/uptime; wget -qO /dev/null {url}/big && "
                     f"read e _ </proc/uptime && echo ok $s $e; read s _ </proc/uptime; "
                     f"for i in $(seq {GETS}); do wget -qO /dev/null {url}/small; done; "
                     "read e _ </proc/uptime; echo gets $s $e")  # fmt: skip
        words = out.split()
        i, j = words.index("ok"), words.index("gets")
        secs = float(words[i + 2]) - float(words[i + 1])
        per = (float(words[j + 2]) - float(words[j + 1])) / GETS
        return {"throughput": f"{mb / secs:.0f} MB/s" if secs > 0 else "n/a",
                "latency": f"{per * 1000:.1f} ms/GET"}  # fmt: skip
    finally:
        docker(a, "service", "rm", "meshweb")


def scenario(socks: list[str], addrs: list[str], mb: int, ipvs_needed: bool = False
             ) -> dict[str, dict[str, str]]:  # fmt: skip
    a, b = socks
    docker(a, "swarm", "init", "--advertise-addr", addrs[0])
    token = docker(a, "swarm", "join-token", "-q", "worker").strip()
    docker(b, "swarm", "join", "--token", token, f"{addrs[0]}:2377")
    docker(a, "network", "create", "-d", "overlay", "--attachable", "benchov")
    out = {"underlying link": measure(a, b, "host", addrs[1], mb),
           "overlay": measure(a, b, "benchov", addrs[1], mb),
           "routing mesh": NO_IPVS if ipvs_needed and not Path("/proc/net/ip_vs").exists()
           else mesh(a, addrs[0], mb)}  # fmt: skip
    for s in (b, a):
        docker(s, "swarm", "leave", "--force")
    return out


def dockyard(base: Path, tar: Path, mb: int) -> dict[str, dict[str, str]]:
    c = Cluster(base)
    try:
        hosts = c.up(2, tar)
        return scenario([h.daemon.sock for h in hosts], [h.addr for h in hosts], mb)  # type: ignore[union-attr]
    finally:
        c.down()


def dockerd(base: Path, tar: Path, mb: int) -> dict[str, dict[str, str]]:
    c = Cluster(base)
    peers: list[DockerdHost] = []
    try:
        hosts = c.up(2, tar)
        dockerd_in(hosts, tar, peers)
        return scenario([p.sock for p in peers], [h.addr for h in hosts], mb, ipvs_needed=True)
    finally:
        for p in peers:
            p.stop()
        c.down()


def main() -> int:
    mb = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    base = Path(tempfile.mkdtemp(prefix="dyov-bench-"))
    results: dict[str, dict[str, dict[str, str]]] = {}
    try:
        tar = busybox_tar(base / "busybox.tar")
        for name, run in (("dockyard", dockyard), ("dockerd swarm", dockerd)):
            if name != "dockyard" and not shutil.which("dockerd"):
                continue
            work = base / name.split()[0]
            work.mkdir()
            try:
                results[name] = run(work, tar, mb)
            except Exception as exc:  # one engine failing still prints the other's
                print(f"({name} failed: {exc})", file=sys.stderr)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"\ncross-host, 2 hosts in network namespaces, container to container, {mb} MB")
    print(f"{'':34}" + "".join(f"{k:>18}" for k in results))
    for path in ("underlying link", "overlay", "routing mesh"):
        for what in ("throughput", "latency"):
            row = [r.get(path, {}).get(what, "n/a") for r in results.values()]
            print(f"{path + ' ' + what:34}" + "".join(f"{v:>18}" for v in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
