from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from tests.integration.registry.peers import Registry, start, stop


@pytest.fixture(scope="module", params=["dockyard", "memory", "distribution"])
def registry(request: pytest.FixtureRequest) -> Iterator[Registry]:
    reg = start(request.param)
    try:
        yield reg
    finally:
        stop(reg)


@pytest.fixture(scope="module")
def ours() -> Iterator[Registry]:
    reg = start("dockyard")
    try:
        yield reg
    finally:
        stop(reg)


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("auth")
    pw = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=5)).decode()
    (d / "htpasswd").write_text(f"alice:{pw}\n")
    (d / "access.yml").write_text(
        "- {account: alice, name: 'alice/*', actions: [pull, push, delete]}\n"
        "- {account: '', name: 'public/*', actions: [pull]}\n"
    )
    (d / "key").write_text(uuid.uuid4().hex)
    return d


@pytest.fixture(scope="module")
def token_registry(users: Path) -> Iterator[Registry]:
    reg = start(
        "dockyard",
        extra_yaml=(
            "auth:\n  token:\n"
            "    service: test-registry\n    issuer: test-issuer\n"
            f"    htpasswd: {users / 'htpasswd'}\n    access: {users / 'access.yml'}\n"
            f"    key: {users / 'key'}\n"
        ),
    )
    try:
        yield reg
    finally:
        stop(reg)


@pytest.fixture(scope="module")
def basic_registry(users: Path) -> Iterator[Registry]:
    reg = start(
        "dockyard", extra_yaml=f"auth:\n  htpasswd: {{realm: test, path: {users / 'htpasswd'}}}\n"
    )
    try:
        yield reg
    finally:
        stop(reg)
