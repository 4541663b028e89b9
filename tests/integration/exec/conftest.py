"""Fixtures for the exec/cp/ops tests: a running busybox container per test,
removed afterwards whatever happened, and a docker-py client."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import docker
import pytest

from tests.conftest import Daemon


def unique(prefix: str = "ex") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def names(daemon: Daemon) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    if made:
        daemon.docker("rm", "-f", *made, timeout=30)


@pytest.fixture()
def running(daemon: Daemon, names: list[str]) -> str:
    n = unique()
    names.append(n)
    r = daemon.docker("run", "-d", "--network", "none", "--name", n, "busybox", "sleep", "600")
    assert r.returncode == 0, r.stderr
    return n


@pytest.fixture()
def client(daemon: Daemon) -> Iterator[docker.DockerClient]:
    c = docker.DockerClient(base_url=daemon.host)
    yield c
    c.close()
