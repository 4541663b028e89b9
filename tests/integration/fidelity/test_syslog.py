"""The syslog logging driver (issue 12): each output line is one message to the
`syslog-address` (here a unixgram socket the test binds), formatted as dockerd's
driver formats it (`<PRI>Mmm dd hh:mm:ss TAG[PID]: LINE`, stdout at info, stderr
at err, facility daemon unless `syslog-facility`), and `docker logs` still works
(dockerd's dual logging). Options are checked at create. Both engines."""

from __future__ import annotations

import os
import re
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Daemon, inspect


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A unixgram socket standing for a syslog daemon."""
    path = str(tmp_path / "log.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(1)
    with server:
        yield server, path


def _receive(sock: socket.socket, want: int, deadline: float) -> list[str]:
    got: list[str] = []
    while len(got) < want and time.monotonic() < deadline:
        try:
            got.append(sock.recv(65536).decode())
        except TimeoutError:
            continue
    return got


def test_syslog_to_a_unixgram_socket(engine: Daemon, receiver: tuple[socket.socket, str]) -> None:
    server, path = receiver
    name = f"fid-sys-{uuid.uuid4().hex[:8]}"
    try:
        engine.docker("run", "--name", name, "--network", "none", "--log-driver", "syslog",
                      "--log-opt", f"syslog-address=unixgram://{path}",
                      "--log-opt", "syslog-facility=local3",
                      "busybox", "sh", "-c", "echo out-line; echo err-line >&2",
                      check=True)  # fmt: skip
        got = sorted(_receive(server, 2, time.monotonic() + 30))
        short = inspect(engine, name)["Id"][:12]
        assert len(got) == 2, got
        stamp = r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d"
        assert re.fullmatch(rf"<155>{stamp} {short}\[\d+\]: err-line\n", got[0]), got
        assert re.fullmatch(rf"<158>{stamp} {short}\[\d+\]: out-line\n", got[1]), got
        logs = engine.docker("logs", name, check=True)
        assert logs.stdout == "out-line\n" and logs.stderr == "err-line\n"
    finally:
        engine.docker("rm", "-f", name)


def test_syslog_tag_and_format(engine: Daemon, receiver: tuple[socket.socket, str]) -> None:
    server, path = receiver
    name = f"fid-sys-{uuid.uuid4().hex[:8]}"
    try:
        engine.docker("run", "--name", name, "--network", "none", "--log-driver", "syslog",
                      "--log-opt", f"syslog-address=unixgram://{path}",
                      "--log-opt", "tag={{.Name}}/{{.ImageName}}",
                      "--log-opt", "syslog-format=rfc5424",
                      "busybox", "echo", "hello", check=True)  # fmt: skip
        got = _receive(server, 1, time.monotonic() + 30)
        tag = f"{name}/busybox"
        assert re.fullmatch(rf"<30>1 \S+ \S+ {re.escape(tag)} \d+ {re.escape(tag)} - hello\n",
                            got[0]), got  # fmt: skip
    finally:
        engine.docker("rm", "-f", name)


def test_syslog_options_are_checked_at_create(engine: Daemon) -> None:
    for opt, words in [("syslog-facility=nosuch", "invalid syslog facility"),
                       ("syslog-format=xml", "Invalid syslog format"),
                       ("syslog-bogus=1", "unknown log opt 'syslog-bogus' for syslog log driver")]:  # fmt: skip
        r = engine.docker("create", "--log-driver", "syslog", "--log-opt", opt, "busybox", "true")
        assert r.returncode != 0 and words in r.stderr, (opt, r.stderr)


@pytest.mark.skipif(os.path.exists("/run/systemd/journal/socket"), reason="journald runs here")
def test_journald_without_journald(engine: Daemon) -> None:
    """A host without journald: the driver is known, the start fails as dockerd's."""
    r = engine.docker("run", "--rm", "--log-driver", "journald", "--network", "none",
                      "busybox", "true")  # fmt: skip
    assert r.returncode != 0
    assert "failed to initialize logging driver: journald is not enabled on this host" in r.stderr
