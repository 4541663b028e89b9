"""The store's security on 3 test hosts: etcd speaks TLS with the swarm's own CA (made
at init, its key 0600 under the data root), node certificates name the node (CN) and
its role (OU), a wrong join token is refused with Docker's message, and a worker's
credentials are refused by etcd itself when they write another node's key."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from tests.conftest import stop_daemon
from tests.integration.swarm.conftest import talking_service, tasks, wait_for
from tests.integration.swarm.hosts import Host, cluster_up


@pytest.fixture(scope="module")
def hosts(busybox_rootfs_tar: Path) -> Iterator[list[Host]]:
    if os.geteuid() != 0 or not shutil.which("etcd") or not shutil.which("etcdctl"):
        pytest.skip("needs root, etcd and etcdctl")
    with cluster_up(3, busybox_rootfs_tar, "dysw-sec-") as hs:
        yield hs


def swarm_dir(h: Host) -> Path:
    return h.root / "data" / "swarm"


def etcdctl(
    h: Host, endpoint: str, *args: str, cert: str = "node.crt"
) -> subprocess.CompletedProcess[str]:
    """etcdctl in the host's namespace with that node's certificate: over gRPC etcd takes
    the user from the certificate's CN, so this is the node's own identity."""
    tls = swarm_dir(h) / "tls"
    cmd = ["ip", "netns", "exec", h.name, "etcdctl", "--endpoints", endpoint,
           "--cacert", str(tls / "ca.crt"), "--cert", str(tls / cert), "--key", str(tls / "node.key"),
           "--dial-timeout", "10s", "--command-timeout", "20s", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=60,
                          env={**os.environ, "ETCDCTL_API": "3"})  # fmt: skip


GET = """
import ssl, urllib.request
ctx = ssl.create_default_context(cafile="{ca}")
print(urllib.request.urlopen("{url}", timeout=10, context=ctx).read().decode())
"""
GET_CERT = """
import ssl, urllib.request
ctx = ssl.create_default_context(cafile="{tls}/ca.crt")
ctx.load_cert_chain("{tls}/client.crt", "{tls}/node.key")
print(urllib.request.urlopen("{url}", timeout=10, context=ctx).read().decode())
"""


def in_netns(h: Host, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", h.name, sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def subject(path: Path) -> dict[str, str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return {a.rfc4514_attribute_name: str(a.value) for a in cert.subject}


def node_id(h: Host) -> str:
    assert h.daemon is not None
    return h.daemon.docker("info", "--format", "{{.Swarm.NodeID}}", check=True).stdout.strip()


def test_store_is_tls_with_the_swarms_ca_and_per_node_rights(hosts: list[Host]) -> None:
    h1, h2, h3 = hosts
    assert h1.daemon is not None and h2.daemon is not None and h3.daemon is not None
    r = h1.daemon.docker("swarm", "init", "--advertise-addr", h1.addr, timeout=60)
    assert r.returncode == 0, r.stderr + h1.daemon.log_path.read_text()[-2000:]
    ca = swarm_dir(h1) / "ca"
    assert (ca / "ca.key").stat().st_mode & 0o777 == 0o600
    assert (ca / "ca.crt").stat().st_mode & 0o777 == 0o600

    # a token for another CA (wrong digest) and a token with a wrong secret: both refused
    token = h1.daemon.docker("swarm", "join-token", "-q", "worker", check=True).stdout.strip()
    bad = h2.daemon.docker("swarm", "join", "--token", token[:-3] + "xyz", f"{h1.addr}:2377")
    assert bad.returncode != 0
    assert "A valid join token is necessary to join this cluster" in bad.stderr
    parts = token.split("-")
    other_ca = "-".join([*parts[:2], "0" * 50, parts[3]])
    bad = h2.daemon.docker("swarm", "join", "--token", other_ca, f"{h1.addr}:2377")
    assert bad.returncode != 0 and "remote CA does not match fingerprint" in bad.stderr
    assert not (swarm_dir(h2) / "state.json").exists()
    for h in (h2, h3):
        assert h.daemon is not None
        r = h.daemon.docker("swarm", "join", "--token", token, f"{h1.addr}:2377", timeout=60)
        assert r.returncode == 0, r.stderr + h.daemon.log_path.read_text()[-2000:]
    ids = [node_id(h) for h in hosts]

    # node certificates: CN = node id, OU = role, signed by the swarm's CA
    assert subject(swarm_dir(h1) / "tls" / "node.crt") == {
        "OU": "swarm-manager", "CN": ids[0]}  # fmt: skip
    assert subject(swarm_dir(h2) / "tls" / "node.crt") == {
        "OU": "swarm-worker", "CN": ids[1]}  # fmt: skip

    # etcd answers TLS only, and only to a client certificate of this swarm's CA
    state = json.loads((swarm_dir(h2) / "state.json").read_text())
    assert state["Endpoints"] and all(e.startswith("https://") for e in state["Endpoints"])
    for probe in (f"http://{h1.addr}:2377/version", f"https://{h1.addr}:2377/version"):
        r = in_netns(h2, GET.format(url=probe, ca=swarm_dir(h2) / "tls" / "ca.crt"))
        assert r.returncode != 0, (probe, r.stdout)  # plain http, or TLS without a cert
    ok = in_netns(
        h2, GET_CERT.format(url=f"https://{h1.addr}:2377/version", tls=swarm_dir(h2) / "tls")
    )
    assert ok.returncode == 0 and "etcdserver" in ok.stdout, ok.stderr

    # a worker's own credentials: its own liveness key yes, another node's no (etcd says so)
    endpoint = f"https://{h1.addr}:2377"
    own = etcdctl(h2, endpoint, "put", f"/dockyard/task-status/{ids[1]}/probe", "x")
    assert own.returncode == 0, own.stderr
    for key in (f"/dockyard/alive/{ids[2]}", f"/dockyard/task-status/{ids[2]}/probe",
                f"/dockyard/nodes/{ids[1]}", "/dockyard/tasks/x", "/dockyard-private/swarm"):  # fmt: skip
        other = etcdctl(h2, endpoint, "put", key, "x")
        assert other.returncode != 0 and "permission denied" in other.stderr, (key, other)
    # nor may it read the join tokens (the Swarm object) or the managers' keys
    for key in ("/dockyard-private/swarm", "/dockyard-private/swarm-keys/ca"):
        read = etcdctl(h2, endpoint, "get", key)
        assert read.returncode != 0 and "permission denied" in read.stderr, (key, read)
    # a manager's credentials may (etcd's root role)
    ok = etcdctl(h1, endpoint, "put", f"/dockyard/task-status/{ids[2]}/probe", "x")
    assert ok.returncode == 0, ok.stderr
    for n in ids[1:]:
        etcdctl(h1, endpoint, "del", f"/dockyard/task-status/{n}/probe")

    # and the swarm still works across the three: one task per node
    h1.daemon.docker("service", "create", "--detach", "--no-resolve-image", "--name", "sec",
                     "--mode", "global", "busybox", "sleep", "100000", check=True)  # fmt: skip
    wait_for("a running task on each node", lambda: sorted(
        t["NodeID"] for t in tasks(h1.daemon, "sec")  # type: ignore[arg-type]
        if t["Status"]["State"] == "running") == sorted(ids))  # fmt: skip


def test_secrets_sealed_at_rest_and_autolock(hosts: list[Host]) -> None:
    """Runs after the test above (the swarm of 3 is up). A secret's value in etcd holds no
    plaintext, yet a task on a worker reads it; with autolock a restarted manager answers
    Docker's locked error until `docker swarm unlock` is given the key."""
    h1, h2, _ = hosts
    d1 = h1.daemon
    assert d1 is not None and h2.daemon is not None
    plain = f"topsecret-{os.urandom(6).hex()}"
    sid = d1.docker("secret", "create", "s1", "-", input=plain.encode(), check=True).stdout.strip()
    worker = node_id(h2)
    d1.docker("service", "create", "--detach", "--no-resolve-image", "--name", "withsecret",
              "--secret", "s1", "--constraint", f"node.id=={worker}",
              "busybox", "sleep", "100000", check=True)  # fmt: skip
    wait_for("the task running on the worker", lambda: [
        t for t in tasks(d1, "withsecret") if t["Status"]["State"] == "running"])  # fmt: skip
    cid = h2.daemon.docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name=withsecret",
                           check=True).stdout.split()[0]  # fmt: skip
    seen = h2.daemon.docker("exec", cid, "cat", "/run/secrets/s1", check=True).stdout
    assert seen == plain
    stored = etcdctl(h1, f"https://{h1.addr}:2377", "get", "--print-value-only",
                     f"/dockyard/secret-data/{sid}")  # fmt: skip
    assert stored.returncode == 0 and stored.stdout.strip(), stored.stderr
    assert plain not in stored.stdout and plain.encode().hex() not in stored.stdout

    # autolock on: the key is shown, and the same by unlock-key
    r = d1.docker("swarm", "update", "--autolock=true", check=True)
    key = next(w for w in r.stdout.split() if w.startswith("SWMKEY-1-"))
    assert d1.docker("swarm", "unlock-key", "-q", check=True).stdout.strip() == key

    # the manager restarts: locked, Docker's messages, then unlocked by the key
    stop_daemon(d1)
    d1 = h1.start()
    locked = wait_for("the manager locked", lambda: (lambda r: r if r.returncode != 0 else None)(
        d1.docker("node", "ls")))  # fmt: skip
    assert "Swarm is encrypted and needs to be unlocked before it can be used." in locked.stderr
    state = d1.docker("info", "--format", "{{.Swarm.LocalNodeState}}", check=True).stdout.strip()
    assert state == "locked"
    wrong = d1.docker("swarm", "unlock", input=b"SWMKEY-1-" + b"A" * 43 + b"=\n")
    assert wrong.returncode != 0
    assert "swarm could not be unlocked: invalid key provided" in wrong.stderr
    d1.docker("swarm", "unlock", input=(key + "\n").encode(), check=True)
    assert d1.docker("node", "ls", "-q", check=True).stdout.split()
    again = d1.docker("swarm", "unlock", input=(key + "\n").encode())
    assert again.returncode != 0 and "swarm is not locked" in again.stderr

    # rotate: a new key; autolock off: no key
    d1.docker("swarm", "unlock-key", "--rotate", check=True)
    rotated = d1.docker("swarm", "unlock-key", "-q", check=True).stdout.strip()
    assert rotated.startswith("SWMKEY-1-") and rotated != key
    d1.docker("swarm", "update", "--autolock=false", check=True)
    none = d1.docker("swarm", "unlock-key", "-q")
    assert none.returncode != 0 and "no unlock key is set" in none.stderr


def test_service_logs_from_every_node(hosts: list[Host]) -> None:
    """`docker service logs` (and -f) on the manager shows the lines of tasks on all three
    nodes: each node serves its tasks' logs to managers over the swarm's TLS."""
    d1 = hosts[0].daemon
    assert d1 is not None
    ids = talking_service(d1, "talk", 3)

    def seen(out: str) -> set[str]:
        return {
            i for i in ids if any(i in line and "said-hello" in line for line in out.splitlines())
        }  # type: ignore[union-attr]

    wait_for("lines from all three", lambda: seen(d1.docker(
        "service", "logs", "--no-trunc", "talk", check=True).stdout) == ids)  # fmt: skip
    follow = subprocess.Popen(["docker", "service", "logs", "-f", "--no-trunc", "talk"],
                              env=d1.env(), stdout=subprocess.PIPE, text=True)  # fmt: skip
    watchdog = threading.Timer(90, follow.kill)  # a readline that never returns
    watchdog.start()
    try:
        got = ""
        assert follow.stdout is not None
        while seen(got) != ids:
            line = follow.stdout.readline()
            assert line, "logs -f ended early: " + got
            got += line
    finally:
        watchdog.cancel()
        follow.kill()
        follow.wait()
    d1.docker("service", "rm", "talk", check=True)
