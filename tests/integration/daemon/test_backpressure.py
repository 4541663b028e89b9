"""Backpressure from a client that stops reading (issue 11.6): the daemon holds a
bounded amount of a container's output, the container blocks (as under dockerd),
and when the client reads again every byte arrives, in order, and is logged;
`docker logs` of the whole log, read slowly, is streamed, not held."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import time
from pathlib import Path

import docker
import pytest

from tests.conftest import start_daemon, stop_daemon

pytestmark = pytest.mark.integration

LINE = 1000
LINES = 500_000  # 500 MB of output


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _write_output_file(path: Path) -> str:
    """LINES numbered lines of LINE bytes; their sha256."""
    h = hashlib.sha256()
    filler = "x" * (LINE - 11)
    with open(path, "wb") as f:
        for start in range(0, LINES, 10_000):
            block = "".join(f"{i:09d} {filler}\n" for i in range(start, start + 10_000)).encode()
            h.update(block)
            f.write(block)
    return h.hexdigest()


class _Demux:
    """The stdout payload of a multiplexed attach stream, hashed as it comes."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.hash = hashlib.sha256()
        self.size = 0

    def feed(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= 8:
            stream, size = struct.unpack_from(">BxxxI", self.buf)
            if len(self.buf) < 8 + size:
                return
            assert stream == 1, f"unexpected stream {stream}"
            payload = bytes(self.buf[8 : 8 + size])
            del self.buf[: 8 + size]
            self.hash.update(payload)
            self.size += len(payload)


def test_a_client_that_stops_reading_holds_the_container_not_the_daemons_memory(
    private_root: Path,
) -> None:
    data = private_root / "output.txt"
    expected = _write_output_file(data)
    d = start_daemon(private_root)
    client = None
    try:
        client = docker.DockerClient(base_url=d.host)
        cid = client.api.create_container(
            "busybox", ["cat", "/output.txt"],
            host_config={"NetworkMode": "none", "Binds": [f"{data}:/output.txt:ro"]},
        )["Id"]  # fmt: skip
        raw = client.api.attach_socket(cid, params={"stdout": 1, "stderr": 1, "stream": 1})
        sock: socket.socket = raw._sock
        sock.settimeout(120)
        client.api.start(cid)
        out = _Demux()
        while out.size < 1 << 20:  # output flows
            out.feed(sock.recv(65536))

        # The client stops reading. The container must block soon: its log stops
        # growing far short of the whole, and the daemon's memory stays bounded.
        log_path = client.api.inspect_container(cid)["LogPath"]
        monitor_pid = int(
            (private_root / "exec" / "containers" / cid / "monitor.pid").read_text().strip()
        )
        rss_daemon, rss_monitor = [], []
        last, still_since = -1, time.monotonic()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            rss_daemon.append(_rss_mib(d.proc.pid))
            rss_monitor.append(_rss_mib(monitor_pid))
            size = os.path.getsize(log_path)
            if size != last:
                last, still_since = size, time.monotonic()
            elif time.monotonic() - still_since > 3:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the log kept growing while the client did not read: {last}")
        assert last < 100 << 20, f"{last} bytes logged while nobody read: the container ran on"
        assert client.api.inspect_container(cid)["State"]["Running"]
        assert max(rss_daemon) < 150, f"daemon RSS {max(rss_daemon):.0f} MiB"
        assert max(rss_monitor) < 100, f"monitor host RSS {max(rss_monitor):.0f} MiB"

        # The client reads again: everything comes, in order, and is logged.
        chunks = 0
        while chunk := sock.recv(1 << 20):
            out.feed(chunk)
            chunks += 1
            if chunks % 256 == 0:
                rss_daemon.append(_rss_mib(d.proc.pid))
        sock.close()
        assert out.size == LINE * LINES
        assert out.hash.hexdigest() == expected
        assert client.api.wait(cid, timeout=60)["StatusCode"] == 0
        assert max(rss_daemon) < 150, f"daemon RSS {max(rss_daemon):.0f} MiB"
        lines = 0
        with open(log_path, "rb") as f:
            first = json.loads(f.readline())
            lines = 1
            while block := f.read(1 << 22):
                lines += block.count(b"\n")
        assert first["log"] == f"{0:09d} " + "x" * (LINE - 11) + "\n"
        assert lines == LINES

        # `docker logs` of that 570 MB log, read slowly: the daemon streams the
        # file (it read it whole into memory once), and gives it all back.
        logs = client.api.logs(cid, stream=True, stdout=True, stderr=True)
        got = hashlib.sha256()
        size = 0
        for _ in range(100):
            piece = next(logs)
            got.update(piece)
            size += len(piece)
        for _ in range(15):  # the client holds the stream for a while
            rss_daemon.append(_rss_mib(d.proc.pid))
            time.sleep(0.2)
        for piece in logs:
            got.update(piece)
            size += len(piece)
        assert size == LINE * LINES and got.hexdigest() == expected
        assert max(rss_daemon) < 150, f"daemon RSS {max(rss_daemon):.0f} MiB"
        client.api.remove_container(cid, force=True)
    finally:
        if client is not None:
            client.close()
        stop_daemon(d)  # also when the client could not connect


def test_an_exec_client_that_stops_reading_holds_the_exec(private_root: Path) -> None:
    total = 300 << 20
    d = start_daemon(private_root)
    client = None
    try:
        client = docker.DockerClient(base_url=d.host)
        c = client.containers.run("busybox", ["sleep", "300"], detach=True, network_mode="none")
        eid = client.api.exec_create(c.id, ["sh", "-c", f"yes 0123456789 | head -c {total}"])["Id"]
        sock: socket.socket = client.api.exec_start(eid, socket=True)._sock
        sock.settimeout(120)
        out = _Counter()
        while out.size < 1 << 20:
            out.feed(sock.recv(65536))
        # Stalled: the exec's writer stops writing far short of the whole; the
        # daemon holds little.
        rss = []
        last, still_since = -1, time.monotonic()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rss.append(_rss_mib(d.proc.pid))
            written = _written(c.id, "head")
            if written != last:
                last, still_since = written, time.monotonic()
            elif time.monotonic() - still_since > 2:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the exec's writer never stopped")
        assert last < total // 4, f"{last} bytes written while nobody read"
        assert client.api.exec_inspect(eid)["Running"]
        while chunk := sock.recv(1 << 20):
            out.feed(chunk)
            rss.append(_rss_mib(d.proc.pid))
        sock.close()
        assert out.size == total
        assert max(rss) < 150, f"daemon RSS {max(rss):.0f} MiB"
        c.remove(force=True)
    finally:
        if client is not None:
            client.close()
        stop_daemon(d)  # also when the client could not connect


class _Counter(_Demux):
    """Bytes of stdout only (the content is `yes`'s: counted, not hashed)."""

    def feed(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= 8:
            stream, size = struct.unpack_from(">BxxxI", self.buf)
            if len(self.buf) < 8 + size:
                return
            assert stream == 1, f"unexpected stream {stream}"
            del self.buf[: 8 + size]
            self.size += size


def _written(cid: str, comm: str) -> int:
    """Bytes written so far by the process named `comm` in the container's cgroup
    (-1 if there is none)."""
    procs = Path(f"/sys/fs/cgroup/pids/dockyard/{cid}/cgroup.procs")
    for pid in procs.read_text().split():
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == comm:
                io = Path(f"/proc/{pid}/io").read_text().split()
                return int(io[io.index("wchar:") + 1])
        except (OSError, ValueError):
            continue
    return -1


def test_input_the_container_does_not_read_is_held_back_and_kill_still_works(
    private_root: Path,
) -> None:
    total = 300 << 20
    d = start_daemon(private_root)
    client = None
    try:
        client = docker.DockerClient(base_url=d.host)
        c = client.containers.run(
            "busybox", ["sleep", "300"], detach=True, network_mode="none", stdin_open=True
        )
        monitor_pid = int(
            (private_root / "exec" / "containers" / c.id / "monitor.pid").read_text().strip()
        )
        raw = client.api.attach_socket(c.id, params={"stdin": 1, "stream": 1})
        sock: socket.socket = raw._sock
        sock.settimeout(0.5)
        chunk = b"y" * (1 << 20)
        sent, stalls, rss_daemon, rss_monitor = 0, 0, [], []
        deadline = time.monotonic() + 120
        while sent < total and stalls < 8 and time.monotonic() < deadline:
            try:
                sent += sock.send(chunk)
                stalls = 0
            except TimeoutError:
                stalls += 1  # the daemon does not take more: backpressure
            rss_daemon.append(_rss_mib(d.proc.pid))
            rss_monitor.append(_rss_mib(monitor_pid))
        assert sent < total // 4, f"{sent} bytes of input taken by a container that reads none"
        assert max(rss_daemon) < 150, f"daemon RSS {max(rss_daemon):.0f} MiB"
        assert max(rss_monitor) < 100, f"monitor host RSS {max(rss_monitor):.0f} MiB"
        # Control has its own link: a kill is not stuck behind the input.
        client.api.kill(c.id)
        assert client.api.wait(c.id, timeout=30)["StatusCode"] == 137
        sock.close()
        c.remove(force=True)
    finally:
        if client is not None:
            client.close()
        stop_daemon(d)  # also when the client could not connect
