"""`--log-opt max-size/max-file/compress`: json-file rotation, read back by `docker logs`,
and dockerd's errors for bad options, through the official docker CLI."""

from __future__ import annotations

import gzip
import json
import os
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import Daemon

pytestmark = pytest.mark.integration

_LOOP = "i=0; while [ $i -lt {n} ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; {pause}i=$((i+1)); done"


@pytest.fixture
def name(daemon: Daemon) -> Iterator[str]:
    n = "dy-" + uuid.uuid4().hex[:10]
    yield n
    daemon.docker("rm", "-f", n)


def _log_path(daemon: Daemon, name: str) -> str:
    return daemon.docker("inspect", "-f", "{{.LogPath}}", name, check=True).stdout.strip()


def _lines(n: int) -> list[str]:
    return [f"line-{i}-" + "x" * 32 for i in range(n)]


def test_rotation_keeps_max_file_files_of_at_most_max_size(daemon: Daemon, name: str) -> None:
    daemon.docker(
        "run", "--name", name, "--network", "none", "--log-opt", "max-size=1k",
        "--log-opt", "max-file=3", "busybox", "sh", "-c", _LOOP.format(n=200, pause=""),
        check=True,
    )  # fmt: skip
    path = _log_path(daemon, name)
    files = sorted(
        p for p in os.listdir(os.path.dirname(path)) if p.startswith(os.path.basename(path))
    )
    assert files == [os.path.basename(path) + s for s in ("", ".1", ".2")]
    for f in files:
        assert 0 < os.path.getsize(os.path.join(os.path.dirname(path), f)) <= 1024
    kept = []
    for suffix in (".2", ".1", ""):
        with open(path + suffix, "rb") as f:
            kept += [json.loads(line)["log"].rstrip("\n") for line in f]
    # what is kept is the end of the output, in order, and `docker logs` shows exactly it
    assert kept == _lines(200)[-len(kept) :] and 15 < len(kept) < 200
    r = daemon.docker("logs", name, check=True)
    assert r.stdout.splitlines() == kept
    r = daemon.docker("logs", "--tail", "2", name, check=True)
    assert r.stdout.splitlines() == _lines(200)[-2:]


def test_compress_gzips_rotated_files(daemon: Daemon, name: str) -> None:
    daemon.docker(
        "run", "--name", name, "--network", "none", "--log-opt", "max-size=1k",
        "--log-opt", "max-file=3", "--log-opt", "compress=true",
        "busybox", "sh", "-c", _LOOP.format(n=200, pause=""), check=True,
    )  # fmt: skip
    path = _log_path(daemon, name)
    deadline = time.monotonic() + 5
    while not (os.path.exists(path + ".1.gz") and os.path.exists(path + ".2.gz")):
        assert time.monotonic() < deadline, os.listdir(os.path.dirname(path))
        time.sleep(0.05)
    with gzip.open(path + ".1.gz") as f:
        assert json.loads(f.readline())["stream"] == "stdout"
    out = daemon.docker("logs", name, check=True).stdout.splitlines()
    assert out[-1] == _lines(200)[-1] and out == _lines(200)[-len(out) :] and len(out) > 15


def test_follow_goes_on_across_rotations(daemon: Daemon, name: str) -> None:
    daemon.docker(
        "run", "-d", "--name", name, "--network", "none", "--log-opt", "max-size=1k",
        "--log-opt", "max-file=10", "busybox", "sh", "-c",
        "sleep 1; " + _LOOP.format(n=80, pause="sleep 0.02; "), check=True,
    )  # fmt: skip
    r = daemon.docker("logs", "-f", name, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == _lines(80)


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        (["--log-opt", "max-size=abc"], "failed to initialize logging driver: invalid size: 'abc'"),
        (["--log-opt", "max-size=0"], "max-size must be a positive number"),
        (["--log-opt", "max-size=1k", "--log-opt", "max-file=0"], "max-file cannot be less than 1"),
        (["--log-opt", "max-size=1k", "--log-opt", "max-file=x"], 'strconv.Atoi: parsing "x"'),
        (["--log-opt", "compress=maybe"], 'strconv.ParseBool: parsing "maybe"'),
    ],
)
def test_bad_values_fail_the_start_like_dockerd(
    daemon: Daemon, name: str, opts: list[str], message: str
) -> None:
    daemon.docker(
        "create", "--name", name, "--network", "none", *opts, "busybox", "true", check=True
    )
    r = daemon.docker("start", name)
    assert r.returncode != 0 and message in r.stderr, r.stderr
    # nothing is left mounted or running for it; it can be removed
    assert daemon.docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "false"
    assert not [m for m in daemon.mounts_under_root() if name in m]


def test_unknown_option_is_refused_at_create(daemon: Daemon, name: str) -> None:
    r = daemon.docker("create", "--name", name, "--log-opt", "foo=1", "busybox", "true")
    assert r.returncode != 0
    assert "unknown log opt 'foo' for json-file log driver" in r.stderr
    assert daemon.docker("inspect", name).returncode != 0
