"""The journald logging driver sends to journald (issue 12): each line is one entry
in sd_journal's native protocol (a datagram of `FIELD=value` lines; a value with a
newline as `FIELD\\n`, its length in 64-bit little endian, the value) on journald's
socket, with dockerd's fields: MESSAGE (no newline), PRIORITY (6 stdout, 3 stderr),
CONTAINER_ID, CONTAINER_ID_FULL, CONTAINER_NAME, CONTAINER_TAG, IMAGE_NAME,
SYSLOG_IDENTIFIER. No journald runs here, so the daemon is pointed at a datagram
socket the test binds in a temp dir (DOCKYARD_JOURNAL_SOCKET); dockerd's socket path
is fixed, so this one is not compared with a peer."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Daemon, daemon_with_busybox, inspect
from tests.waiting import wait_until


def parse_entry(data: bytes) -> dict[str, str]:
    """One native-protocol datagram as fields."""
    out: dict[str, str] = {}
    while data:
        line, sep, rest = data.partition(b"\n")
        if b"=" in line:
            key, _, value = line.partition(b"=")
            out[key.decode()] = value.decode()
            data = rest
        else:  # binary-safe: the name, then le64 length, the value and a newline
            (size,) = struct.unpack("<Q", rest[:8])
            out[line.decode()] = rest[8 : 8 + size].decode()
            data = rest[8 + size + 1 :]
    return out


@pytest.fixture()
def journal(
    busybox_rootfs_tar: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Daemon, socket.socket]]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    root = Path(tempfile.mkdtemp(prefix="dyjd-", dir="/tmp"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(root / "journal.sock"))
    sock.setblocking(False)
    monkeypatch.setenv("DOCKYARD_JOURNAL_SOCKET", str(root / "journal.sock"))
    (root / "d").mkdir()
    try:
        with daemon_with_busybox(root / "d", busybox_rootfs_tar) as d:
            yield d, sock
    finally:
        sock.close()
        shutil.rmtree(root, ignore_errors=True)


def test_journald_entries(journal: tuple[Daemon, socket.socket]) -> None:
    d, sock = journal
    d.docker("run", "--name", "jd", "--network", "none", "--log-driver", "journald",
             "--log-opt", "tag={{.Name}}/x", "busybox", "sh", "-c",
             "echo out-line; echo err-line >&2", check=True)  # fmt: skip
    got: list[dict[str, str]] = []

    def receive() -> bool:
        try:
            while True:
                got.append(parse_entry(sock.recv(65536)))
        except BlockingIOError:
            pass
        return len(got) >= 2

    wait_until(receive, "two journal entries")
    c = inspect(d, "jd")
    common = {
        "CONTAINER_ID": c["Id"][:12], "CONTAINER_ID_FULL": c["Id"], "CONTAINER_NAME": "jd",
        "CONTAINER_TAG": "jd/x", "SYSLOG_IDENTIFIER": "jd/x", "IMAGE_NAME": "busybox",
    }  # fmt: skip
    by_msg = {e["MESSAGE"]: e for e in got}
    assert by_msg["out-line"] == {**common, "MESSAGE": "out-line", "PRIORITY": "6"}
    assert by_msg["err-line"] == {**common, "MESSAGE": "err-line", "PRIORITY": "3"}
    logs = d.docker("logs", "jd", check=True)  # the local copy, as with syslog
    assert logs.stdout == "out-line\n" and logs.stderr == "err-line\n"
    d.docker("rm", "jd", check=True)
