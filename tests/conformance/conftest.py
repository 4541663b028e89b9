"""A real etcd for the `ClusterStore` suite: on free loopback ports, data in a temp dir,
stopped by pid at the end even when a test fails."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator

import pytest


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture(scope="session")
def etcd_url() -> Iterator[str]:
    binary = shutil.which("etcd")
    if binary is None:
        pytest.skip("etcd is not installed (etcd-server)")
    tmp = tempfile.mkdtemp(prefix="dy-etcd-")
    client, peer = free_ports(2)
    url = f"http://127.0.0.1:{client}"
    logf = open(f"{tmp}/etcd.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [binary, "--name", "conf", "--data-dir", f"{tmp}/data",
         "--listen-client-urls", url, "--advertise-client-urls", url,
         "--listen-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-cluster", f"conf=http://127.0.0.1:{peer}"],
        stdout=logf, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    logf.close()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if b"true" in r.read():
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(open(f"{tmp}/etcd.log").read())
            time.sleep(0.1)
        yield url
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
