"""exec start honours the start body's `Tty` (issue 12.10): dockerd multiplexes the
output unless the start request says `Tty: true`, whatever the exec was created
with. docker-py's exec_start reads the stream as its own `tty` argument says."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import docker
import pytest

from tests.conftest import Daemon


@pytest.fixture()
def running(engine: Daemon) -> Iterator[tuple[docker.APIClient, str]]:
    name = f"fid-exectty-{uuid.uuid4().hex[:8]}"
    engine.docker("run", "-d", "--name", name, "--network", "none", "busybox",
                  "sleep", "300", check=True)  # fmt: skip
    api = docker.APIClient(base_url=engine.host)
    try:
        yield api, name
    finally:
        api.close()
        engine.docker("rm", "-f", name)


def test_tty_exec_started_without_tty_is_multiplexed(
    running: tuple[docker.APIClient, str],
) -> None:
    api, name = running
    eid = api.exec_create(name, ["sh", "-c", "echo out; echo err >&2"], tty=True)["Id"]
    out, err = api.exec_start(eid, tty=False, demux=True)
    # the process has a TTY (both streams on it, \r\n), the stream is multiplexed
    assert (out or b"").replace(b"\r\n", b"\n").split() == [b"out", b"err"]
    assert err is None


def test_plain_exec_started_with_tty_is_raw(running: tuple[docker.APIClient, str]) -> None:
    api, name = running
    eid = api.exec_create(name, ["sh", "-c", "echo out"], tty=False)["Id"]
    assert api.exec_start(eid, tty=True) == b"out\n"
